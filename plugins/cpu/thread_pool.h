// A small persistent pool of std::threads for the CPU library (not OpenMP: the library is
// loaded into processes that already run PyTorch's libgomp).
//
// One job at a time (concurrent callers queue on a mutex). The calling thread works too, as
// thread index 0. Items are claimed one by one from an atomic counter, so coarse items
// (row blocks) balance themselves. A forked child gets a fresh pool.
#ifndef FMSMI_CPU_THREAD_POOL_H
#define FMSMI_CPU_THREAD_POOL_H

#include <stdint.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace fmsmi {
namespace cpu {

class ThreadPool {
 public:
  using Task = void (*)(void* context, int64_t item, int thread_index);

  // The process-wide pool (created on first use, recreated after fork).
  static ThreadPool& instance();

  // Calls task(context, item, thread_index) for every item in [0, count) on up to `threads`
  // threads (thread_index < threads). Returns false when a task threw (the rest still ran).
  bool run(int threads, int64_t count, Task task, void* context);

  template <class F>
  bool parallel_for(int threads, int64_t count, F&& body) {
    return run(threads, count,
               [](void* context, int64_t item, int thread_index) {
                 (*static_cast<F*>(context))(item, thread_index);
               },
               &body);
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

 private:
  ThreadPool();
  void grow(int workers);
  void worker_loop(int thread_index, uint64_t seen);
  void work(int thread_index);

  std::mutex submit_mutex_;  // one job at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  // Current job (written under mutex_ before generation_ changes).
  Task task_ = nullptr;
  void* context_ = nullptr;
  int64_t count_ = 0;
  int participants_ = 0;  // worker threads taking part (thread indices 1..participants_)
  std::atomic<int64_t> next_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> failed_{false};
};

// Threads to use for a `threads` argument (0 = all hardware threads).
int resolve_threads(int threads);

}  // namespace cpu
}  // namespace fmsmi

#endif  // FMSMI_CPU_THREAD_POOL_H
