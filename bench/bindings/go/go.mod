module tagwirebench

go 1.19

require tagwire v0.0.0

replace tagwire => ../../../bindings/go
