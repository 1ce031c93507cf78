"""Container names and ids as docker makes them.

Generated names are docker's adjective_surname (the word lists of docker 20.10's
pkg/namesgenerator); on a clash docker retries with a digit appended, five times, then falls
back to the short id. Ids are 64 hex characters whose 12-character short form is never all
digits (it is the default hostname).
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Callable

from caisson import errors

# docker's api.RestrictedNameChars and its anchored pattern (a leading "/" is allowed).
NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_ALL_DIGITS = re.compile(r"^[0-9]+$")

_random = random.SystemRandom()

# fmt: off
LEFT: tuple[str, ...] = (
    "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful",
    "blissful", "bold", "boring", "brave", "busy", "charming", "clever", "cool", "compassionate",
    "competent", "condescending", "confident", "cranky", "crazy", "dazzling", "determined",
    "distracted", "dreamy", "eager", "ecstatic", "elastic", "elated", "elegant", "eloquent",
    "epic", "exciting", "fervent", "festive", "flamboyant", "focused", "friendly", "frosty",
    "funny", "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore", "heuristic",
    "hopeful", "hungry", "infallible", "inspiring", "interesting", "intelligent", "jolly",
    "jovial", "keen", "kind", "laughing", "loving", "lucid", "magical", "mystifying", "modest",
    "musing", "naughty", "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic",
    "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical",
    "recursing", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy",
    "stoic", "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting",
    "unruffled", "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful",
    "xenodochial", "youthful", "zealous", "zen",
)

RIGHT: tuple[str, ...] = (
    "agnesi", "albattani", "allen", "almeida", "antonelli", "archimedes", "ardinghelli",
    "aryabhata", "austin", "babbage", "banach", "banzai", "bardeen", "bartik", "bassi", "beaver",
    "bell", "benz", "bhabha", "bhaskara", "black", "blackburn", "blackwell", "bohr", "booth",
    "borg", "bose", "bouman", "boyd", "brahmagupta", "brattain", "brown", "buck", "burnell",
    "cannon", "carson", "cartwright", "carver", "cerf", "chandrasekhar", "chaplygin", "chatelet",
    "chatterjee", "chaum", "chebyshev", "clarke", "cohen", "colden", "cori", "cray", "curran",
    "curie", "darwin", "davinci", "dewdney", "dhawan", "diffie", "dijkstra", "dirac", "driscoll",
    "dubinsky", "easley", "edison", "einstein", "elbakyan", "elgamal", "elion", "ellis",
    "engelbart", "euclid", "euler", "faraday", "feistel", "fermat", "fermi", "feynman", "franklin",
    "gagarin", "galileo", "galois", "ganguly", "gates", "gauss", "germain", "goldberg",
    "goldstine", "goldwasser", "golick", "goodall", "gould", "greider", "grothendieck", "haibt",
    "hamilton", "haslett", "hawking", "hellman", "heisenberg", "hermann", "herschel", "hertz",
    "heyrovsky", "hodgkin", "hofstadter", "hoover", "hopper", "hugle", "hypatia", "ishizaka",
    "jackson", "jang", "jemison", "jennings", "jepsen", "jobs", "johnson", "joliot", "jones",
    "kalam", "kapitsa", "kare", "keldysh", "keller", "kepler", "khayyam", "khorana", "kilby",
    "kirch", "knuth", "kowalevski", "lalande", "lamarr", "lamport", "leakey", "leavitt",
    "lederberg", "lehmann", "lewin", "lichterman", "liskov", "lovelace", "lumiere", "mahavira",
    "margulis", "matsumoto", "maxwell", "mayer", "mccarthy", "mcclintock", "mclaren", "mclean",
    "mcnulty", "mendel", "mendeleev", "meitner", "meninsky", "merkle", "mestorf", "mirzakhani",
    "montalcini", "moore", "morse", "murdock", "moser", "napier", "nash", "neumann", "newton",
    "nightingale", "nobel", "noether", "northcutt", "noyce", "panini", "pare", "pascal", "pasteur",
    "payne", "perlman", "pike", "poincare", "poitras", "proskuriakova", "ptolemy", "raman",
    "ramanujan", "ride", "ritchie", "rhodes", "robinson", "roentgen", "rosalind", "rubin", "saha",
    "sammet", "sanderson", "satoshi", "shamir", "shannon", "shaw", "shirley", "shockley", "shtern",
    "sinoussi", "snyder", "solomon", "spence", "stonebraker", "sutherland", "swanson", "swartz",
    "swirles", "taussig", "tereshkova", "tesla", "tharp", "thompson", "torvalds", "tu", "turing",
    "varahamihira", "vaughan", "villani", "visvesvaraya", "volhard", "wescoff", "wilbur", "wiles",
    "williams", "williamson", "wilson", "wing", "wozniak", "wright", "wu", "yalow", "yonath",
    "zhukovsky",
)
# fmt: on


def get_random_name(retry: int) -> str:
    """docker's GetRandomName: "adjective_surname", plus one random digit when retry > 0."""
    while True:
        name = f"{_random.choice(LEFT)}_{_random.choice(RIGHT)}"
        if name != "boring_wozniak":  # Steve Wozniak is not boring
            break
    if retry > 0:
        name += str(_random.randrange(10))
    return name


def generate(container_id: str, taken: Callable[[str], bool]) -> str:
    """A free generated name for a new container, as docker's generateNewName: six tries,
    then the short id."""
    for i in range(6):
        name = get_random_name(i)
        if not taken(name):
            return name
    return container_id[:12]


def validate(name: str) -> str:
    """The name without its leading "/", or InvalidArgument with docker's message."""
    if not _NAME.match(name):
        raise errors.InvalidArgument(
            f"Invalid container name ({name}), only {NAME_CHARS} are allowed"
        )
    return name.removeprefix("/")


def conflict(name: str, container_id: str) -> errors.AlreadyExists:
    """docker's error when a name is in use."""
    return errors.AlreadyExists(
        f'Conflict. The container name "/{name}" is already in use by container '
        f'"{container_id}". You have to remove (or rename) that container to be able to '
        "reuse that name."
    )


def new_id() -> str:
    """64 random hex characters whose short form is not all digits: it is the default
    hostname, and a numeric hostname breaks things (docker's stringid.GenerateRandomID)."""
    while True:
        value = secrets.token_hex(32)
        if not _ALL_DIGITS.match(value[:12]):
            return value
