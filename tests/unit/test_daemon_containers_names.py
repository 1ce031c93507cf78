import re

import pytest

from caisson import errors
from caisson.daemon import names


def test_generated_names_are_docker_adjective_surname():
    for _ in range(200):
        name = names.get_random_name(0)
        left, right = name.split("_")
        assert left in names.LEFT and right in names.RIGHT
        assert name != "boring_wozniak"
        names.validate(name)


def test_word_lists_are_docker_20_10s():
    assert len(names.LEFT) == 108 and len(names.RIGHT) == 238
    assert {"admiring", "xenodochial", "zen"} <= set(names.LEFT)
    assert {"agnesi", "wozniak", "zhukovsky", "jobs"} <= set(names.RIGHT)
    assert len(set(names.RIGHT)) == len(names.RIGHT)


def test_a_retry_appends_one_digit():
    assert re.fullmatch(r"[a-z]+_[a-z]+[0-9]", names.get_random_name(3))


def test_generate_retries_then_falls_back_to_the_short_id():
    cid = "abc123" + "0" * 58
    seen: list[str] = []

    def taken(name: str) -> bool:
        seen.append(name)
        return True

    assert names.generate(cid, taken) == cid[:12]
    assert len(seen) == 6
    assert re.fullmatch(r"[a-z]+_[a-z]+", seen[0])
    assert all(re.fullmatch(r"[a-z]+_[a-z]+[0-9]", n) for n in seen[1:])
    assert re.fullmatch(r"[a-z]+_[a-z]+", names.generate(cid, lambda n: False))


@pytest.mark.parametrize("name", ["ab", "web-1", "a.b_c", "/web", "0x"])
def test_valid_names(name):
    assert names.validate(name) == name.lstrip("/")


@pytest.mark.parametrize("name", ["a", "-web", "_web", "we b", "web/1", "", "/", "é1"])
def test_invalid_names_use_dockers_message(name):
    with pytest.raises(errors.InvalidArgument) as e:
        names.validate(name)
    assert str(e.value) == (
        f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
    )


def test_conflict_message():
    err = names.conflict("web", "f" * 64)
    assert isinstance(err, errors.AlreadyExists)
    assert str(err) == (
        'Conflict. The container name "/web" is already in use by container "'
        + "f" * 64
        + '". You have to remove (or rename) that container to be able to reuse that name.'
    )


def test_ids_are_64_hex_with_a_non_numeric_short_form():
    ids = {names.new_id() for _ in range(100)}
    assert len(ids) == 100
    for i in ids:
        assert re.fullmatch(r"[0-9a-f]{64}", i)
        assert not i[:12].isdigit()
