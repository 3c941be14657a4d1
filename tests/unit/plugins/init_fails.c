/* A plugin whose init fails. */
#define FAKE_NAME "init_fails"
#define FAKE_INIT_FAILS 1
#include "fake_plugin.h"
