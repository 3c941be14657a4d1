/* A library that is not a Takhin plugin: no entry symbol. */
#define FAKE_NAME "no_entry"
#define FAKE_NO_ENTRY 1
#include "fake_plugin.h"
