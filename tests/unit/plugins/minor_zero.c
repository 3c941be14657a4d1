/* A plugin built against host API 1.0, before reload_note: a newer host
 * of the same major loads it. */
#define FAKE_NAME "minor_zero"
#define FAKE_MINOR 0
#include "fake_plugin.h"
