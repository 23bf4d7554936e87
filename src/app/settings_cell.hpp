#pragma once
// The settings in force: replaced on SIGHUP by the main thread, read by the query thread (the
// TLS files a scrape reports).

#include <vigil/config/settings.hpp>
#include <vigil/core/sync.hpp>

#include <memory>
#include <utility>

namespace vigil::app {

/// Thread safety: safe.
class settings_cell {
public:
    explicit settings_cell(config::settings s) : now_(std::make_shared<const config::settings>(std::move(s))) {}

    [[nodiscard]] std::shared_ptr<const config::settings> get() const {
        const lock_guard lock{mu_};
        return now_;
    }

    void set(config::settings s) {
        auto next = std::make_shared<const config::settings>(std::move(s));
        const lock_guard lock{mu_};
        now_ = std::move(next);
    }

private:
    mutable mutex mu_;
    std::shared_ptr<const config::settings> now_ VIGIL_GUARDED_BY(mu_);
};

}  // namespace vigil::app
