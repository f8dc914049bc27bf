module ckalab.local/node-image/kindnetd

go 1.26.0
