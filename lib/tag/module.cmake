# tag: value types and quality (types.c), tag name rules (name.c), tags, tag sets, change sets (tag.c).
tw_module(tag SOURCES types.c name.c tag.c)
