#include "thread_pool.h"

#include <unistd.h>

namespace fmsmi {
namespace cpu {

namespace {

struct PoolSlot {
  ThreadPool* pool = nullptr;
  pid_t pid = 0;
};

PoolSlot g_slot;
std::mutex g_slot_mutex;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned hardware = std::thread::hardware_concurrency();
  return hardware > 0 ? static_cast<int>(hardware) : 1;
}

ThreadPool& ThreadPool::instance() {
  const pid_t pid = getpid();
  std::lock_guard<std::mutex> lock(g_slot_mutex);
  if (g_slot.pool == nullptr || g_slot.pid != pid) {
    // After fork() the parent's workers do not exist here: the old pool is abandoned (not
    // destroyed: its threads cannot be joined). The pool is never destroyed in a process:
    // its workers sleep on a condition variable until exit.
    g_slot.pool = new ThreadPool();
    g_slot.pid = pid;
  }
  return *g_slot.pool;
}

ThreadPool::ThreadPool() = default;

void ThreadPool::grow(int workers) {
  while (static_cast<int>(workers_.size()) < workers) {
    // The worker starts from the generation before the job that needs it is posted: a thread
    // that starts late must still see that job as new.
    const int index = static_cast<int>(workers_.size()) + 1;
    const uint64_t seen = generation_.load(std::memory_order_acquire);
    workers_.emplace_back([this, index, seen] { worker_loop(index, seen); });
  }
}

void ThreadPool::work(int thread_index) {
  for (;;) {
    const int64_t item = next_.fetch_add(1, std::memory_order_relaxed);
    if (item >= count_) break;
    try {
      task_(context_, item, thread_index);
    } catch (...) {
      failed_.store(true, std::memory_order_relaxed);
    }
  }
}

void ThreadPool::worker_loop(int thread_index, uint64_t seen) {
  for (;;) {
    // Spin briefly (back-to-back calls), then sleep.
    uint64_t now = generation_.load(std::memory_order_acquire);
    for (int spin = 0; now == seen && spin < 4000; ++spin) {
      cpu_relax();
      now = generation_.load(std::memory_order_acquire);
    }
    if (now == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      now = generation_.load(std::memory_order_acquire);
    }
    // Read the job's generation and size together: a worker that wakes late may find a
    // newer job than the one that woke it, and must take part in that one at most once.
    int participants;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      seen = generation_.load(std::memory_order_relaxed);
      participants = participants_;
    }
    if (thread_index > participants) continue;
    work(thread_index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_one();
    }
  }
}

bool ThreadPool::run(int threads, int64_t count, Task task, void* context) {
  if (count <= 0) return true;
  int helpers = threads - 1;
  if (helpers > count - 1) helpers = static_cast<int>(count - 1);
  if (helpers <= 0) {  // inline: no pool, no lock
    bool ok = true;
    for (int64_t item = 0; item < count; ++item) {
      try {
        task(context, item, 0);
      } catch (...) {
        ok = false;
      }
    }
    return ok;
  }
  std::lock_guard<std::mutex> submit(submit_mutex_);
  grow(helpers);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = task;
    context_ = context;
    count_ = count;
    participants_ = helpers;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(helpers, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  work(0);
  // Wait for the helpers: spin a little (they usually finish together), then sleep.
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0 && spin < 4000; ++spin)
    cpu_relax();
  if (pending_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
  }
  return !failed_.load(std::memory_order_relaxed);
}

}  // namespace cpu
}  // namespace fmsmi
