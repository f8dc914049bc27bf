// Command binfmt is the offline stand-in for the tonistiigi/binfmt image's entrypoint, used only
// where that image cannot be pulled. It takes the same flags (--install, --uninstall, --version,
// --mount) and prints the same status JSON ("supported" from BuildKit's own detection,
// "emulators" enabled in binfmt_misc). Like the real one it registers each emulator with the
// flags CF (F: the kernel opens the interpreter now, so it works inside every container).
// Unlike the real one, the emulators are Debian's qemu-user-static, and the magic and mask of
// each architecture are read from that package's /usr/lib/binfmt.d files instead of a table.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/util/archutil"
)

var (
	mount       = flag.String("mount", "/proc/sys/fs/binfmt_misc", "binfmt_misc mount point")
	toInstall   = flag.String("install", "", "architectures to install (comma-separated, or all)")
	toUninstall = flag.String("uninstall", "", "emulators to uninstall (names, globs or platforms)")
	showVersion = flag.Bool("version", false, "display version")
)

// QEMU's name for each Go/OCI architecture the real image supports.
var qemuName = map[string]string{
	"amd64": "x86_64", "arm64": "aarch64", "arm": "arm", "386": "i386", "riscv64": "riscv64",
	"ppc64le": "ppc64le", "s390x": "s390x", "mips64le": "mips64el", "mips64": "mips64",
	"loong64": "loongarch64",
}

const confDir = "/usr/lib/binfmt.d" // Debian's qemu-user-static: one qemu-NAME.conf per emulator

func main() {
	log.SetFlags(0)
	flag.Parse()
	archutil.CacheMaxAge = 0
	if err := run(); err != nil {
		log.Printf("error: %v", err)
	}
}

func run() error {
	if *showVersion {
		log.Printf("binfmt/ckalab-stand-in qemu/%s", qemuVersion())
		return nil
	}
	if _, err := os.Stat(filepath.Join(*mount, "status")); err != nil {
		if err := syscall.Mount("binfmt_misc", *mount, "binfmt_misc", 0, ""); err != nil {
			return fmt.Errorf("cannot mount binfmt_misc filesystem at %s: %w", *mount, err)
		}
		defer syscall.Unmount(*mount, 0)
	}
	for _, name := range uninstallNames(*toUninstall) {
		report("uninstalling", name, uninstall(name))
	}
	for _, arch := range installArchs(*toInstall) {
		report("installing", arch, install(arch))
	}
	return printStatus()
}

func report(what, name string, err error) {
	if err == nil {
		log.Printf("%s: %s OK", what, name)
	} else {
		log.Printf("%s: %s %v", what, name, err)
	}
}

func uninstall(name string) error {
	if _, err := os.Stat(filepath.Join(*mount, name)); err != nil || name == "register" || name == "status" {
		return fmt.Errorf("not found")
	}
	return os.WriteFile(filepath.Join(*mount, name), []byte("-1"), 0o600)
}

func install(arch string) error {
	qemu, ok := qemuName[arch]
	if !ok {
		return fmt.Errorf("unsupported architecture: %v", arch)
	}
	conf, err := os.ReadFile(filepath.Join(confDir, "qemu-"+qemu+".conf"))
	if err != nil {
		return fmt.Errorf("no emulator for %s in this image: %w", arch, err)
	}
	// :name:type:offset:magic:mask:interpreter:flags
	fields := strings.Split(strings.TrimSpace(string(conf)), ":")
	if len(fields) != 8 {
		return fmt.Errorf("cannot read %s", filepath.Join(confDir, "qemu-"+qemu+".conf"))
	}
	line := fmt.Sprintf(":qemu-%s:M:0:%s:%s:/usr/bin/qemu-%s:CF", qemu, fields[4], fields[5], qemu)
	f, err := os.OpenFile(filepath.Join(*mount, "register"), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("cannot open %s: %w", filepath.Join(*mount, "register"), err)
	}
	defer f.Close()
	if _, err := f.Write([]byte(line)); err != nil {
		if os.IsExist(err) {
			return fmt.Errorf("qemu-%s already registered", qemu)
		}
		return fmt.Errorf("cannot register qemu-%s: %w", qemu, err)
	}
	return nil
}

func installArchs(in string) (out []string) {
	if in == "all" {
		native := map[string]bool{}
		for _, p := range archutil.SupportedPlatforms(true) {
			native[p.Architecture] = true
		}
		for arch, qemu := range qemuName {
			if _, err := os.Stat("/usr/bin/qemu-" + qemu); err == nil && !native[arch] {
				out = append(out, arch)
			}
		}
		return out
	}
	for _, v := range split(in) {
		if p, err := platforms.Parse(v); err == nil {
			v = p.Architecture
		}
		out = append(out, v)
	}
	return out
}

func uninstallNames(in string) (out []string) {
	for _, v := range split(in) {
		if p, err := platforms.Parse(v); err == nil {
			if qemu, ok := qemuName[p.Architecture]; ok {
				v = "qemu-" + qemu
			}
		}
		matches, _ := filepath.Glob(filepath.Join(*mount, v))
		if len(matches) == 0 {
			out = append(out, v)
		}
		for _, m := range matches {
			out = append(out, filepath.Base(m))
		}
	}
	return out
}

func split(in string) (out []string) {
	for _, v := range strings.Split(in, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func printStatus() error {
	entries, err := os.ReadDir(*mount)
	if err != nil {
		return err
	}
	emulators := []string{}
	for _, e := range entries {
		if e.Name() == "register" || e.Name() == "status" {
			continue
		}
		if dt, err := os.ReadFile(filepath.Join(*mount, e.Name())); err == nil && strings.HasPrefix(string(dt), "enabled") {
			emulators = append(emulators, e.Name())
		}
	}
	supported := []string{}
	for _, p := range archutil.SupportedPlatforms(true) {
		supported = append(supported, platforms.FormatAll(platforms.Normalize(p)))
	}
	dt, err := json.MarshalIndent(map[string][]string{"supported": supported, "emulators": emulators}, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(dt))
	return nil
}

func qemuVersion() string {
	dt, _ := os.ReadFile("/usr/share/qemu-version")
	return strings.TrimSpace(string(dt))
}
