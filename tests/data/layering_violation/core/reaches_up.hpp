#pragma once
// A core header that reaches up into the CLI: scripts/check-layers must refuse it.
#include "cli/command.hpp"
