"""/proc readings shared by the Python benchmark scripts."""


def rss_kib(pid):
    """Resident set size of process `pid` in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
