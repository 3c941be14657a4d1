/* A well-formed plugin. */
#define FAKE_NAME "good"
#include "fake_plugin.h"
