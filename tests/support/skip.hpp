#pragma once
// Visible skips: CTest marks a test "skipped" when its output contains MODELMIX_SKIP
// (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt), so CPU-only machines show which
// [gpu] / [data] tests did not run instead of hiding them.
#include <iostream>
#include <string>

#define MODELMIX_SKIP_TEST(reason)                         \
  do {                                                     \
    std::cout << "MODELMIX_SKIP: " << (reason) << std::endl; \
    return;                                                \
  } while (false)
