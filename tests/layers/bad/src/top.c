#include "core/a.h"
#include "http/server.h"
