/* A plugin built for another major version of the host API. */
#define FAKE_NAME "bad_major"
#define FAKE_MAJOR (TK_ABI_MAJOR + 1)
#include "fake_plugin.h"
