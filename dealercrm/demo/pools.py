"""Word pools drawn once from Faker zh_CN (seeded), then sampled with the generators' own Random.

Faker costs tens of microseconds a call; a million customers draw from these lists instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from faker import Faker
from faker.providers.person.zh_CN import Provider as PersonProvider

PERSON_NAMES = 20000


@dataclass(frozen=True)
class Pools:
    surnames: tuple[str, ...]
    surname_weights: tuple[float, ...]  # cumulative
    male_given: tuple[str, ...]
    female_given: tuple[str, ...]
    streets: tuple[str, ...]  # street names; the generator adds the number
    companies: tuple[str, ...]
    occupations: tuple[str, ...]
    # Full person names with their gender, most common first. A bounded set, as in life (张伟
    # is shared by ~300,000 people): search keys are computed once per name, and pinyin is slow.
    person_names: tuple[tuple[str, bool], ...]


def _given_names(single: list[str], faker: Faker, count: int) -> tuple[str, ...]:
    """Given names of one gender: Faker's list, plus two-character names built from it."""
    chars = [name for name in single if len(name) == 1]
    names = list(dict.fromkeys(single))
    seen = set(names)
    rng = faker.random
    while len(names) < count:
        name = rng.choice(chars) + rng.choice(chars)
        if name[0] != name[1] and name not in seen:
            seen.add(name)
            names.append(name)
    return tuple(names)


def build_pools(seed: int) -> Pools:
    faker = Faker("zh_CN")
    faker.seed_instance(seed)
    last_names = PersonProvider.last_names  # an ordered mapping of surname → frequency (%)
    surnames = tuple(last_names)
    weights = tuple(accumulate(float(last_names[s]) for s in surnames))
    streets = tuple(dict.fromkeys(faker.street_name() for _ in range(3000)))
    companies = tuple(dict.fromkeys(faker.company() for _ in range(1500)))
    occupations = tuple(dict.fromkeys(faker.job() for _ in range(400)))
    male_given = _given_names(PersonProvider.first_names_male, faker, 600)
    female_given = _given_names(PersonProvider.first_names_female, faker, 600)
    rng = faker.random
    person_names: list[tuple[str, bool]] = []
    seen: set[str] = set()
    while len(person_names) < PERSON_NAMES:
        is_male = rng.random() < 0.55
        surname = rng.choices(surnames, cum_weights=weights)[0]
        name = surname + rng.choice(male_given if is_male else female_given)
        if name not in seen:
            seen.add(name)
            person_names.append((name, is_male))
    return Pools(
        surnames=surnames,
        surname_weights=weights,
        male_given=male_given,
        female_given=female_given,
        streets=streets,
        companies=companies,
        occupations=occupations,
        person_names=tuple(person_names),
    )
