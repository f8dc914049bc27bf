"""catalog-indexer: the search team's nightly job that indexes the product catalog."""

import yaml
from jinja2 import Template

BUILD = "dev"

REPORT = Template("catalog-indexer build {{ build }}: indexed {{ n }} products ({{ names }})")


def main() -> None:
    with open("catalog.yaml") as fh:
        products = yaml.safe_load(fh)["products"]
    print(REPORT.render(build=BUILD, n=len(products), names=", ".join(p["name"] for p in products)))


if __name__ == "__main__":
    main()
