// loci-race-test: no race
// C++: a worker fills a vector, then hands it over through a
// std::condition_variable waited on with a steady-clock deadline (libstdc++
// calls pthread_cond_clockwait); the counter is a std::atomic.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>
int main() {
    std::mutex m;
    std::condition_variable cv;
    bool ready = false;
    std::vector<int> data;
    std::atomic<int> extra{0};
    std::thread worker([&] {
        for (int i = 0; i < 100; i++)
            data.push_back(i);
        extra.fetch_add(1);
        std::lock_guard<std::mutex> g(m);
        ready = true;
        cv.notify_one();
    });
    {
        std::unique_lock<std::mutex> l(m);
        while (!ready)
            cv.wait_until(l, std::chrono::steady_clock::now() + std::chrono::milliseconds(50));
    }
    long s = 0;
    for (int v : data)
        s += v;
    worker.join();
    std::printf("%ld %d\n", s, extra.load());
    return 0;
}
