"""Settings the host reads itself: the body limit, the thread pool, a port someone holds."""

import socket

import pytest

from localdev.host.cli import body_size_limit, thread_count
from localdev.host.config import StartupError
from localdev.host.supervisor import check_port_free


def test_body_limit_defaults_to_the_hosts_100_mib_and_reads_bytes():
    assert body_size_limit({}) == 100 * 1024 * 1024
    assert body_size_limit({"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "524288"}) == 524288


@pytest.mark.parametrize("value", ["64k", "-1", "0", "1.5"])
def test_a_bad_body_limit_is_a_startup_error(value):
    with pytest.raises(StartupError, match="FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be"):
        body_size_limit({"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": value})


def test_thread_count_is_1_to_32_or_pythons_default():
    assert thread_count({}) is None
    assert thread_count({"PYTHON_THREADPOOL_THREAD_COUNT": "8"}) == 8
    for value in ("0", "33", "many"):
        with pytest.raises(StartupError, match="PYTHON_THREADPOOL_THREAD_COUNT"):
            thread_count({"PYTHON_THREADPOOL_THREAD_COUNT": value})


def test_a_port_someone_listens_on_is_refused_before_sharing_it():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(StartupError, match=f"cannot listen on 127.0.0.1:{port}"):
            check_port_free("127.0.0.1", port)
    check_port_free("127.0.0.1", port)  # free again once it is closed
