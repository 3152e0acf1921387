"""The mixed-workload benchmark's pure helpers: percentiles, /proc parsing, the session cookie
a response sets. (The benchmark itself never runs in the tests.)"""
from bench.mixed import percentile, session_cookie, stat_cpu_ticks, status_rss_kb


def test_percentile_interpolates_between_closest_ranks():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 5.0
    assert percentile(values, 25) == 2.0
    assert percentile([1.0, 2.0], 99) == 1.99
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) != percentile([], 50)  # NaN


def test_percentile_matches_the_numpy_default_on_a_longer_series():
    values = [float(x) for x in range(1, 101)]  # 1..100
    assert percentile(values, 95) == 95.05
    assert percentile(values, 99) == 99.01


def test_cpu_ticks_read_past_a_command_name_with_spaces_and_parentheses():
    stat = ("1234 (gunicorn: worker (app) x) S 1 1234 1234 0 -1 4194560 2000 0 0 0 "
            "150 25 0 0 20 0 5 0 100 1000000 5000 18446744073709551615")
    assert stat_cpu_ticks(stat) == 175


def test_rss_from_proc_status():
    status = "Name:\tgunicorn\nVmPeak:\t  300000 kB\nVmRSS:\t  123456 kB\nThreads:\t5\n"
    assert status_rss_kb(status) == 123456
    assert status_rss_kb("Name:\tzombie\n") == 0


def test_session_cookie_from_set_cookie():
    assert session_cookie("session=abc.def; HttpOnly; Path=/; SameSite=Lax") == "session=abc.def"
    assert session_cookie("other=1; Path=/, session=xyz; HttpOnly") == "session=xyz"
    assert session_cookie("remember_token=1; Path=/") is None
    assert session_cookie(None) is None


def test_profile_top_counts_each_function_once_per_stack():
    from bench.mixed import profile_top

    collapsed = ("main (a.py:1);handle (b.py:10);render (c.py:5) 6\n"
                 "main (a.py:1);handle (b.py:12);query (d.py:7) 3\n"
                 "main (a.py:1);recurse (e.py:2);recurse (e.py:3) 1\n")
    total, top = profile_top(collapsed, 3)
    assert total == 10
    assert top[0] == ("main (a.py)", 10, 0)
    assert top[1] == ("handle (b.py)", 9, 0)
    assert top[2] == ("render (c.py)", 6, 6)
    assert dict((f, own) for f, _k, own in profile_top(collapsed, 10)[1])["recurse (e.py)"] == 1
