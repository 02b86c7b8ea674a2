// The one Catch2 main of the CPU unit tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
