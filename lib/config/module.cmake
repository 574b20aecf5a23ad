# config: the gateway configuration file (JSON, parsed by json-c) as a validated, immutable
# description that the node consumes. config.c: life cycle and accessors; parse.c: the rules.
tw_module(config SOURCES config.c parse.c LIBS PkgConfig::JSONC PKG_REQUIRES json-c)
