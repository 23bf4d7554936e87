#include <vigil/auth/password.hpp>

#include <vigil/auth/authenticator.hpp>
#include <vigil/config/settings.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

using namespace vigil::auth;
using Catch::Matchers::Contains;

TEST_CASE("auth: hashes verify, are salted, and reject other passwords", "[auth][password]") {
    const auto h1 = hash_password("s3cret", 1000);
    const auto h2 = hash_password("s3cret", 1000);
    CHECK(h1.rfind("$7$1000$", 0) == 0);
    CHECK(h1 != h2);  // fresh salt each time
    CHECK(verify_password(h1, "s3cret"));
    CHECK_FALSE(verify_password(h1, "s3cret "));
    CHECK_FALSE(verify_password(h1, ""));
    CHECK_FALSE(verify_password("$7$1000$bad", "s3cret"));
    CHECK_FALSE(verify_password("plain", "plain"));
}

TEST_CASE("auth: padding that is not base64 is refused, not miscounted", "[auth][password]") {
    const auto h = hash_password("s3cret", 1000);  // $7$1000$<salt>$<hash>
    const auto hash_part = h.substr(h.rfind('$'));
    // The fuzzer's input: a salt of one character and 63 '='. Counting every '=' as padding
    // wrapped the length and threw std::length_error out of the file parser.
    const std::string many = "$7$10$1" + std::string(63, '=') + hash_part;
    CHECK_FALSE(verify_password(many, "s3cret"));
    CHECK_THROWS_WITH(password_file::parse("M:" + many + "\n", "p"), Contains("p:1") && Contains("vigil passwd"));
    CHECK_FALSE(verify_password("$7$1000$====" + hash_part, "s3cret"));
    CHECK_FALSE(verify_password("$7$1000$ab=c" + hash_part, "s3cret"));
    CHECK_FALSE(verify_password("$7$1000$a===" + hash_part, "s3cret"));
}

TEST_CASE("auth: a mosquitto_passwd hash verifies", "[auth][password]") {
    // Made with Debian's mosquitto_passwd 2.0.11: `mosquitto_passwd -b f car7 correct-horse`.
    const std::string hash =
        "$7$101$1pTRnnhuWcqP0G3A$8+uPiMb2DIfhTPKM4FRjTL5gY8kmki2gdgAMfJ907xr+Dm/3bwl2hu9HsUpSkfpIwAjfOQdSFCPUiA5mNGx/"
        "Zw==";
    CHECK(verify_password(hash, "correct-horse"));
    CHECK_FALSE(verify_password(hash, "correct-horse!"));
}

TEST_CASE("auth: password file parsing", "[auth][password]") {
    const auto h = hash_password("pw", 1000);
    const auto f = password_file::parse("# users\n\ncar1:" + h + "\ncar2:" + h + "\r\n", "p");
    CHECK(f.size() == 2);
    REQUIRE(f.find("car1") != nullptr);
    CHECK(f.find("car3") == nullptr);
    CHECK_THROWS_WITH(password_file::parse("car1\n", "p"), Contains("p:1") && Contains("user:hash"));
    CHECK_THROWS_WITH(password_file::parse("ok:" + h + "\ncar1:plain\n", "p"),
                      Contains("p:2") && Contains("vigil passwd"));
    CHECK_THROWS_WITH(password_file::parse("a:" + h + "\na:" + h + "\n", "p"), Contains("p:2") && Contains("twice"));
    auto g = f;
    g.set("car1", {});
    CHECK(g.size() == 1);
    CHECK(password_file::parse(g.text(), "round-trip").size() == 1);
}

TEST_CASE("auth: authenticator verifies off-thread and caches successes", "[auth][password]") {
    password_file users;
    users.set("dev", hash_password("right", 1000));
    authenticator a{std::move(users)};
    std::mutex mu;
    std::condition_variable cv;
    int answers = 0;
    bool results[4] = {};
    const auto owner = std::make_shared<int>(0);
    auto ask = [&](std::string u, std::string p, int i) {
        REQUIRE(a.verify_async({std::move(u), std::move(p), "10.0.0." + std::to_string(i), owner}, [&, i](bool ok) {
            const std::lock_guard lock{mu};
            results[i] = ok;
            ++answers;
            cv.notify_all();
        }));
    };
    CHECK_FALSE(a.cached("dev", "right"));
    ask("dev", "right", 0);
    ask("dev", "wrong", 1);
    ask("nobody", "right", 2);
    ask("dev", "right", 3);  // identical to the first: joins it
    std::unique_lock lock{mu};
    REQUIRE(cv.wait_for(lock, std::chrono::seconds{30}, [&] { return answers == 4; }));
    CHECK(results[0]);
    CHECK(results[3]);
    CHECK_FALSE(results[1]);
    CHECK_FALSE(results[2]);
    CHECK(a.cached("dev", "right"));
    CHECK_FALSE(a.cached("dev", "wrong"));
    a.reload(password_file{});
    CHECK_FALSE(a.cached("dev", "right"));  // reload forgets
}

TEST_CASE("auth: several hashing threads answer every check once", "[auth][password][concurrency]") {
    password_file users;
    for (int i = 0; i < 12; ++i) {
        users.set("dev" + std::to_string(i), hash_password("pw" + std::to_string(i), 1000));
    }
    authenticator a{std::move(users), 3};
    std::mutex mu;
    std::condition_variable cv;
    std::vector<int> answers(24, 0);
    std::vector<bool> results(24, false);
    const auto owner = std::make_shared<int>(0);
    for (int i = 0; i < 24; ++i) {
        // Even checks carry the right password, odd ones a wrong one; four addresses.
        const int user = i / 2;
        check_request r{"dev" + std::to_string(user), i % 2 == 0 ? "pw" + std::to_string(user) : "nope",
                        "10.0.0." + std::to_string(i % 4), owner};
        REQUIRE(a.verify_async(std::move(r), [&, i](bool ok) {
            const std::lock_guard lock{mu};
            results[static_cast<std::size_t>(i)] = ok;
            ++answers[static_cast<std::size_t>(i)];
            cv.notify_all();
        }));
    }
    std::unique_lock lock{mu};
    REQUIRE(cv.wait_for(lock, std::chrono::seconds{30},
                        [&] { return std::all_of(answers.begin(), answers.end(), [](int n) { return n >= 1; }); }));
    for (std::size_t i = 0; i < 24; ++i) {
        CHECK(answers[i] == 1);
        CHECK(results[i] == (i % 2 == 0));
    }
}

TEST_CASE("auth: a flood of checks from one address delays another's by one hash at most", "[auth][password]") {
    password_file users;
    users.set("dev", hash_password("right", 20000));
    authenticator a{std::move(users), 1, 16, 4096};
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> order;  // who was answered, in order
    const auto owner = std::make_shared<int>(0);
    auto ask = [&](const std::string& who, const std::string& address, const std::string& password) {
        return a.verify_async({"dev", password, address, owner}, [&, who](bool) {
            const std::lock_guard lock{mu};
            order.push_back(who);
            cv.notify_all();
        });
    };
    int accepted = 0;
    int refused = 0;
    for (int i = 0; i < 40; ++i) {
        (ask("attacker", "192.0.2.66", "guess" + std::to_string(i)) ? accepted : refused) += 1;
    }
    CHECK(refused >= 40 - 17);  // 16 wait per address, and one may already be in flight
    CHECK(a.stats().refused == static_cast<std::uint64_t>(refused));
    REQUIRE(ask("user", "198.51.100.7", "right"));
    std::unique_lock lock{mu};
    REQUIRE(
        cv.wait_for(lock, std::chrono::seconds{60}, [&] { return static_cast<int>(order.size()) == accepted + 1; }));
    const auto user_at = std::find(order.begin(), order.end(), "user") - order.begin();
    INFO("answered in order: user at " << user_at << " of " << order.size());
    CHECK(user_at <= 2);  // one attacker check in flight, at most one more taken before its turn
}

TEST_CASE("auth: checks whose connections have gone are dropped before hashing", "[auth][password]") {
    password_file users;
    users.set("dev", hash_password("right", 20000));
    authenticator a{std::move(users), 1};
    std::mutex mu;
    std::condition_variable cv;
    int answered = 0;
    auto answer = [&](bool) {
        const std::lock_guard lock{mu};
        ++answered;
        cv.notify_all();
    };
    const auto alive = std::make_shared<int>(0);
    REQUIRE(a.verify_async({"dev", "slow", "203.0.113.1", alive}, answer));  // keeps the worker busy
    auto gone = std::make_shared<int>(0);
    for (int i = 0; i < 5; ++i) {
        REQUIRE(a.verify_async({"dev", "p" + std::to_string(i), "203.0.113.2", gone}, answer));
    }
    gone.reset();  // the connections closed while their checks waited
    // The same address's checks run in order: once this one is answered, the five were handled.
    REQUIRE(a.verify_async({"dev", "last", "203.0.113.2", alive}, answer));
    std::unique_lock lock{mu};
    REQUIRE(cv.wait_for(lock, std::chrono::seconds{60}, [&] { return answered == 2; }));
    CHECK(a.stats().hashed == 2);
    CHECK(a.stats().dropped == 5);
}
