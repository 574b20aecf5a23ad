# adapters/sim: the simulator adapter (sim://), deterministic signals.
tw_module(adapter_sim SOURCES sim.c LIBS m DEFINES TW_HAVE_SIM)
