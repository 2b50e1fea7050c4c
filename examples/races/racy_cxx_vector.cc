// loci-race-test: race
// C++: a worker appends to a std::vector that main reads, ordered only by a
// relaxed atomic flag.
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>
int main() {
    std::vector<long> v(16, 1);
    std::atomic<bool> done{false};
    std::thread worker([&] {
        for (auto &x : v)
            x += 1;
        done.store(true, std::memory_order_relaxed);
    });
    while (!done.load(std::memory_order_relaxed))
        ;
    long s = 0;
    for (long x : v)
        s += x;
    worker.join();
    std::printf("%ld\n", s);
    return 0;
}
