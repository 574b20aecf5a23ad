# node: the edge runtime that wires devices (adapters or the push API), tags and the Sparkplug edge
# session (uplink) together, with its event loop (step mode or an internal thread), poll threads,
# statistics, and the mapping from a configuration file (tw_node_new_from_config).
tw_module(node SOURCES node.c node_uplink.c node_config.c node_renew.c)
