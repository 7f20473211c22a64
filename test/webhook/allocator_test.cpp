// seedhop-webhook links mimalloc through seedhop_link_allocator (CMakeLists.txt); so does this
// test. It checks that the link alone routes every allocator of the process to mimalloc: this
// executable's, the C library's, libstdc++'s and OpenSSL's, on any thread.

#include <gtest/gtest.h>
#include <mimalloc.h>
#include <openssl/crypto.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

TEST(AllocatorTest, TellsItsOwnBlocksFromOtherMemory) {
  int on_stack = 0;
  static int in_data = 0;
  EXPECT_FALSE(mi_is_in_heap_region(&on_stack));
  EXPECT_FALSE(mi_is_in_heap_region(&in_data));
  void* direct = mi_malloc(64);
  EXPECT_TRUE(mi_is_in_heap_region(direct));
  mi_free(direct);
}

TEST(AllocatorTest, MallocOfThisExecutableIsMimalloc) {
  void* block = std::malloc(64);
  ASSERT_NE(block, nullptr);
  EXPECT_TRUE(mi_is_in_heap_region(block));
  std::free(block);
}

TEST(AllocatorTest, OperatorNewIsMimalloc) {
  auto block = std::make_unique<char[]>(7 * 1024);
  EXPECT_TRUE(mi_is_in_heap_region(block.get()));
}

TEST(AllocatorTest, AllocationsInsideLibstdcxxAreMimalloc) {
  // runtime_error's constructor is compiled into libstdc++.so, not into this test: it copies
  // the message into a block it allocates itself.
  std::runtime_error error(std::string(200, 'x'));
  EXPECT_TRUE(mi_is_in_heap_region(error.what()));
}

TEST(AllocatorTest, AllocationsInsideTheCLibraryAreMimalloc) {
  char* copy = strdup("an allocation made by libc itself");
  ASSERT_NE(copy, nullptr);
  EXPECT_TRUE(mi_is_in_heap_region(copy));
  std::free(copy);
}

TEST(AllocatorTest, OpenSslAllocationsAreMimalloc) {
  void* block = OPENSSL_malloc(256);
  ASSERT_NE(block, nullptr);
  EXPECT_TRUE(mi_is_in_heap_region(block));
  OPENSSL_free(block);
}

TEST(AllocatorTest, OtherThreadsAllocateFromMimalloc) {
  bool owned = false;
  std::thread worker([&] {
    auto block = std::make_unique<char[]>(128);
    owned = mi_is_in_heap_region(block.get());
  });
  worker.join();
  EXPECT_TRUE(owned);
}

}  // namespace
