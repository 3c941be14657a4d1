/* A plugin that needs a newer minor version than the host has. */
#define FAKE_NAME "newer_minor"
#define FAKE_MINOR (TK_ABI_MINOR + 1)
#include "fake_plugin.h"
