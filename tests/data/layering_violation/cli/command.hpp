#pragma once
// The CLI may include core: allowed.
#include "core/reaches_up.hpp"
