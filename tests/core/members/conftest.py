import pytest
from argon2 import PasswordHasher

from guahao.core.members import passwords


@pytest.fixture(autouse=True)
def cheap_password_hashing():
    """Argon2id with minimal cost: the same code path, milliseconds instead of ~0.1 s a hash."""
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    passwords.use_hasher(previous)
