module tagwirebench

go 1.24

require tagwire v0.0.0

replace tagwire => ../../../bindings/go
