"""Expand the hand-written seed sentences into the frozen train/dev/test JSONL splits.

The seeds (``seeds/fr.txt``, ``seeds/en.txt``) are written by hand, each already assigned to
one split. Every seed is expanded into deterministic variants that imitate how residents
really write: greetings and sign-offs (formal letters, SMS), a place in Marseille (including
street names that look like categories, e.g. "rue de la Lumière"), a second, minor problem,
Marseille expressions, stripped accents, SMS abbreviations, typos, caps lock.

A dev or test example is only ever a variant of a dev or test seed, so no variant of a
training sentence can leak into evaluation. Run ``python -m nlp.corpus.generate`` to rewrite
the committed files, ``--check`` to verify that they are up to date.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent
SEED_DIR = CORPUS_DIR / "seeds"
SPLITS = ("train", "dev", "test")
LANGS = ("fr", "en")

# How many examples each seed yields (the seed itself plus variants): train seeds are
# expanded more because the model learns from them; dev/test get a few variants each so the
# evaluation also covers the noisy registers.
VARIANTS_PER_SEED = {
    ("fr", "train"): 9,
    ("fr", "dev"): 4,
    ("fr", "test"): 4,
    ("en", "train"): 6,
    ("en", "dev"): 4,
    ("en", "test"): 4,
}


@dataclass(frozen=True)
class Seed:
    """One hand-written sentence with its label, language and split."""

    text: str
    label: str
    lang: str
    split: str
    index: int


def read_seeds(lang: str, seed_dir: Path = SEED_DIR) -> list[Seed]:
    """Parse ``seeds/<lang>.txt`` ("@label split" headers, one sentence a line)."""
    seeds: list[Seed] = []
    label = split = ""
    counter: Counter[tuple[str, str]] = Counter()
    for raw in (seed_dir / f"{lang}.txt").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            label, split = line[1:].split()
            if split not in SPLITS:
                raise ValueError(f"unknown split {split!r} in {lang}.txt")
            continue
        if not label:
            raise ValueError(f"sentence before any '@label split' header in {lang}.txt")
        seeds.append(Seed(line, label, lang, split, counter[(label, split)]))
        counter[(label, split)] += 1
    return seeds


# --- places -------------------------------------------------------------------------------
STREETS = [
    "la Canebière",
    "rue de Rome",
    "rue Paradis",
    "boulevard National",
    "cours Julien",
    "rue d'Aubagne",
    "rue de la République",
    "avenue du Prado",
    "boulevard Baille",
    "boulevard Michelet",
    "rue Saint-Ferréol",
    "cours Belsunce",
    "boulevard de la Libération",
    "chemin du Roucas-Blanc",
    "rue Sainte",
    "boulevard Chave",
    "avenue de la Capelette",
    "rue Breteuil",
    "boulevard Longchamp",
    "avenue des Chartreux",
    "rue Consolat",
    "chemin de Sainte-Marthe",
    "avenue de Saint-Antoine",
    "boulevard Rabatau",
    "corniche Kennedy",
    "boulevard de Plombières",
    "avenue de Mazargues",
    "rue d'Endoume",
    "quai du Port",
    "quai de Rive-Neuve",
    "boulevard Françoise-Duparc",
    "boulevard Sakakini",
    "rue Loubon",
    "boulevard de la Blancarde",
    "chemin de Château-Gombert",
    "rue de Lodi",
    "avenue de la Rose",
    "boulevard Vauban",
    "rue Curiol",
    "avenue Roger-Salengro",
]
# Street names that look like a category: the model must learn they say nothing.
TRAP_STREETS = [
    "rue de la Lumière",
    "boulevard des Poubelles",
    "impasse du Feu",
    "place des Tags",
    "rue du Réverbère",
    "traverse de la Fontaine",
    "chemin des Eaux",
    "rue du Panneau",
    "allée des Bancs",
    "rue du Silence",
    "avenue de la Décharge",
    "rue de l'Épave",
    "place du Tapage",
    "rue des Égouts",
    "traverse des Lampes",
    "boulevard du Signal",
    "rue de la Source",
    "impasse des Graffitis",
    "rue du Trou",
    "chemin de la Fuite",
]
QUARTIERS = [
    "Noailles",
    "Belsunce",
    "le Panier",
    "la Plaine",
    "Castellane",
    "la Belle de Mai",
    "Saint-Mauront",
    "les Chartreux",
    "Saint-Barnabé",
    "Mazargues",
    "la Joliette",
    "l'Estaque",
    "Sainte-Marthe",
    "Frais-Vallon",
    "la Rose",
    "Bonneveine",
    "la Pointe-Rouge",
    "Endoume",
    "Vauban",
    "Saint-Loup",
    "la Capelette",
    "Saint-Just",
    "Malpassé",
    "Château-Gombert",
    "la Valentine",
    "Saint-Henri",
    "Saint-Louis",
    "la Viste",
    "Montredon",
    "Sainte-Anne",
    "la Timone",
    "Menpenti",
    "la Blancarde",
    "le Merlan",
    "les Goudes",
]
ARRONDISSEMENTS_FR = [
    "13001",
    "13002",
    "13003",
    "13004",
    "13005",
    "13006",
    "13008",
    "13011",
    "13013",
    "13014",
    "13015",
    "13016",
    "dans le 13",
    "dans le 3e",
    "dans le 15ème",
    "dans le 1er",
]


def _street(rng: random.Random) -> str:
    # One place in three is a trap street so the traps appear in every category.
    return rng.choice(TRAP_STREETS) if rng.random() < 0.35 else rng.choice(STREETS)


def _place_fr(rng: random.Random) -> str:
    street = _street(rng)
    num = rng.randint(1, 180)
    return rng.choice(
        [
            f"au {num} {street}",
            f"{street}",
            f"devant le {num} {street}",
            f"{street} ({rng.choice(ARRONDISSEMENTS_FR[:12])})",
            f"quartier {rng.choice(QUARTIERS)}",
            f"à {rng.choice(QUARTIERS)}, {street}",
            f"{street}, {rng.choice(ARRONDISSEMENTS_FR[12:])}",
            f"en haut de la {street}" if street.startswith("rue ") else f"vers {street}",
        ]
    )


def _place_en(rng: random.Random) -> str:
    street = _street(rng)
    num = rng.randint(1, 180)
    return rng.choice(
        [
            f"at {num} {street}",
            f"on {street}",
            f"outside {num} {street}",
            f"in {rng.choice(QUARTIERS)}",
            f"near the Old Port, {street}",
            f"{street}, {rng.choice(['13001', '13006', '13007', '13008'])}",
        ]
    )


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def add_place(text: str, lang: str, rng: random.Random) -> str:
    """Put a Marseille place before or after the text."""
    place = _place_fr(rng) if lang == "fr" else _place_en(rng)
    if rng.random() < 0.5:
        sep = rng.choice([" : ", ", ", " - ", " "])
        return f"{place[:1].upper()}{place[1:]}{sep}{_lower_first(text)}"
    body = text.rstrip(" .!?")
    return f"{body}, {place}." if rng.random() < 0.6 else f"{body} ({place})"


# --- registers ----------------------------------------------------------------------------
GREETINGS = {
    "fr": [
        "Bonjour,",
        "Bonjour madame, monsieur,",
        "Madame, Monsieur,",
        "Bjr",
        "Slt",
        "Bonsoir,",
        "Allô la mairie,",
        "Bonjour, je me permets de vous signaler ceci :",
        "Salut,",
        "Bonjour à vous,",
        "Bonjour, je suis riverain et",
    ],
    "en": [
        "Hi,",
        "Hello,",
        "Dear Sir or Madam,",
        "Good morning,",
        "Hey",
        "To whom it may concern,",
    ],
}
CLOSINGS = {
    "fr": [
        "Cordialement.",
        "Merci d'avance.",
        "Merci de faire vite.",
        "Bien cordialement, un riverain excédé.",
        "Veuillez agréer, Madame, Monsieur, l'expression de mes salutations distinguées.",
        "Mrc",
        "svp",
        "Merci !!!",
        "Bonne journée.",
        "C'est la troisième fois que je signale.",
        "Photo jointe.",
        "Ça dure depuis des semaines.",
        "Merci de votre intervention rapide.",
        "En espérant une réponse rapide.",
    ],
    "en": [
        "Thanks.",
        "Kind regards.",
        "Please fix asap.",
        "thx",
        "Cheers.",
        "This has been going on for weeks.",
        "Photo attached.",
        "Many thanks in advance.",
    ],
}
EXPRESSIONS = {
    "fr": [
        "C'est une cata.",
        "Franchement c'est la honte.",
        "Dégun ne fait rien.",
        "Ça fait tarpin longtemps que ça dure.",
        "On est dans le 13, pas au bout du monde !",
        "Oh fan de chichourle, faites quelque chose !",
        "Je m'engatse, ça fait trois fois que j'appelle.",
        "Vé, c'est toujours pareil ici.",
        "C'est un scandale, on paye nos impôts comme tout le monde.",
        "Sérieux, personne ne bouge ?",
        "Ça me fait péter un câble.",
        "Les touristes vont adorer, bravo Marseille.",
    ],
    "en": [
        "Not a great look for Marseille.",
        "Seriously, does anyone care?",
        "We pay our taxes like everyone else.",
        "Honestly this is a disgrace.",
    ],
}

# Short secondary problems ("two problems in one report", the label stays the main one).
# The first half is used for train seeds, the second half for dev/test seeds only.
SECONDARY = {
    "fr": {
        "streetlight": [
            "le lampadaire d'à côté clignote aussi",
            "l'éclairage est faible",
            "un réverbère est éteint un peu plus loin",
            "il fait un peu sombre",
        ],
        "traffic_signal": [
            "le feu du carrefour met longtemps à passer au vert",
            "le feu piéton est lent",
            "le feu clignote parfois",
            "le bouton du feu est dur",
        ],
        "road_sign": [
            "le panneau stop est un peu penché",
            "la plaque de rue est sale",
            "un panneau est tagué",
            "le marquage au sol s'efface",
        ],
        "road_damage": [
            "le trottoir est un peu abîmé",
            "il y a un petit trou dans la route",
            "la chaussée est fissurée",
            "quelques pavés bougent",
        ],
        "graffiti": [
            "il y a quelques tags sur le mur",
            "la façade est taguée",
            "des graffitis sur la porte",
            "des autocollants partout",
        ],
        "illegal_dumping": [
            "un vieux matelas traîne plus loin",
            "des gravats sur le bas-côté",
            "un canapé abandonné au coin",
            "des encombrants devant le portail",
        ],
        "waste_bins": [
            "les poubelles sont pleines",
            "la rue est un peu sale",
            "il y a des papiers par terre",
            "la corbeille déborde",
        ],
        "abandoned_vehicle": [
            "une épave est garée à côté",
            "un scooter abandonné traîne là",
            "une voiture ventouse",
            "une vieille camionnette n'a pas bougé",
        ],
        "noise": [
            "le bar d'en face est bruyant le soir",
            "les chiens aboient",
            "la musique des voisins s'entend",
            "il y a du bruit la nuit",
        ],
        "public_order": [
            "des jeunes traînent le soir",
            "il y a parfois des rodéos",
            "des gens boivent sur la place",
            "ça deale un peu plus loin",
        ],
        "street_furniture": [
            "le banc est cassé",
            "l'abribus est abîmé",
            "un potelet est tordu",
            "la barrière est branlante",
        ],
        "water_leak": [
            "il y a une flaque qui ne sèche jamais",
            "ça sent un peu l'égout",
            "la grille d'évacuation est bouchée",
            "un filet d'eau coule",
        ],
        "other": [
            "il y a des pigeons partout",
            "un arbre a perdu des branches",
            "on voit des rats le soir",
            "il y a un nid de guêpes",
        ],
    },
    "en": {
        "streetlight": ["the lamp post next to it flickers too", "a street light is out nearby"],
        "traffic_signal": ["the crossing light is slow", "the traffic light blinks sometimes"],
        "road_sign": ["the stop sign is a bit bent", "a sign is covered in stickers"],
        "road_damage": ["the pavement is a bit cracked", "there's a small pothole too"],
        "graffiti": ["there are some tags on the wall", "the door has graffiti on it"],
        "illegal_dumping": ["an old mattress is lying further down", "some rubble on the verge"],
        "waste_bins": ["the bins are full", "there's litter around"],
        "abandoned_vehicle": ["a wreck is parked next to it", "an abandoned scooter is there"],
        "noise": ["the bar opposite is noisy at night", "dogs bark a lot"],
        "public_order": ["kids hang around in the evening", "people drink on the square"],
        "street_furniture": ["the bench is broken", "the bus shelter is damaged"],
        "water_leak": ["there's a puddle that never dries", "it smells of sewage a bit"],
        "other": ["there are pigeons everywhere", "a tree lost some branches"],
    },
}
CONNECTORS = {
    "fr": ["Et au passage,", "Par ailleurs,", "Autre chose :", "Sinon", "PS :", "En plus"],
    "en": ["Also,", "By the way,", "PS:", "On top of that"],
}


def add_second_problem(text: str, lang: str, label: str, split: str, rng: random.Random) -> str:
    """Append a short, minor problem of another category (the label stays the main one)."""
    others = sorted(k for k in SECONDARY[lang] if k != label)
    pool = SECONDARY[lang][rng.choice(others)]
    half = len(pool) // 2
    pool = pool[:half] if split == "train" else pool[half:]
    body = text.rstrip()
    if body[-1:] not in ".!?":
        body += "."
    return f"{body} {rng.choice(CONNECTORS[lang])} {rng.choice(pool)}."


# --- surface noise ------------------------------------------------------------------------
SMS_FR = [
    (r"\bs'il vous pla[iî]t\b", "svp"),
    (r"\bc'est\b", "c"),
    (r"\bquoi\b", "koi"),
    (r"\bbeaucoup\b", "bcp"),
    (r"\btoujours\b", "tjrs"),
    (r"\bpour\b", "pr"),
    (r"\bavec\b", "avc"),
    (r"\bquand\b", "qd"),
    (r"\bnous\b", "ns"),
    (r"\bvous\b", "vs"),
    (r"\baujourd'hui\b", "ajd"),
    (r"\bmerci\b", "mrc"),
    (r"\brien\b", "ri1"),
    (r"\bdemain\b", "dem1"),
    (r"\bque\b", "ke"),
    (r"\bqui\b", "ki"),
    (r"\bil y a\b", "ya"),
    (r"\bje suis\b", "chui"),
    (r"\bparce que\b", "pcq"),
    (r"\bmaintenant\b", "mtn"),
    (r"\bquelque chose\b", "qqch"),
    (r"\bmême\b", "mm"),
    (r"\bbonjour\b", "bjr"),
]
SMS_EN = [
    (r"\byou\b", "u"),
    (r"\bplease\b", "pls"),
    (r"\bthanks\b", "thx"),
    (r"\bare\b", "r"),
    (r"\bfor\b", "4"),
    (r"\bbecause\b", "cuz"),
    (r"\bpeople\b", "ppl"),
    (r"\breally\b", "rly"),
    (r"\btonight\b", "2nite"),
    (r"\bsomeone\b", "sum1"),
    (r"\bit's\b", "its"),
    (r"\bdon't\b", "dont"),
    (r"\bcan't\b", "cant"),
]
# Neighbouring keys (AZERTY for French, QWERTY for English) for slip-of-the-finger typos.
NEIGHBOURS = {
    "fr": dict(zip("azertyuiopqsdfghjklmwxcvbn", "zeryuiopoisdfghjklmlxcvbnb", strict=True)),
    "en": dict(zip("qwertyuiopasdfghjklzxcvbnm", "wertyuiopoasdfghjklkxcvbnm", strict=True)),
}


def strip_accents(text: str) -> str:
    """Remove diacritics (what residents typing on a phone without accents produce)."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    )


def sms_style(text: str, lang: str) -> str:
    """Lower-case, SMS abbreviations, no accents, light punctuation."""
    out = text.lower()
    for pattern, repl in SMS_FR if lang == "fr" else SMS_EN:
        out = re.sub(pattern, repl, out)
    out = strip_accents(out) if lang == "fr" else out
    return re.sub(r"[.;:]+(\s|$)", r"\1", out).strip()


def add_typos(text: str, lang: str, rng: random.Random) -> str:
    """Introduce one or two typos (swap, drop, double, neighbouring key) in long words."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not candidates:
        return text
    for i in rng.sample(candidates, k=min(len(candidates), rng.choice([1, 1, 2]))):
        w = words[i]
        p = rng.randrange(1, len(w) - 1)
        kind = rng.choice(["swap", "drop", "double", "key"])
        if kind == "swap":
            w = w[:p] + w[p + 1] + w[p] + w[p + 2 :]
        elif kind == "drop":
            w = w[:p] + w[p + 1 :]
        elif kind == "double":
            w = w[:p] + w[p] + w[p:]
        else:
            w = w[:p] + NEIGHBOURS[lang].get(w[p].lower(), w[p]) + w[p + 1 :]
        words[i] = w
    return " ".join(words)


def make_variant(seed: Seed, k: int) -> str:
    """Return the k-th deterministic variant of a seed (k = 0 is the seed itself)."""
    if k == 0:
        return seed.text
    # String seeds are hashed with SHA-512 by random.seed: stable across runs and machines.
    rng = random.Random(f"{seed.lang}/{seed.split}/{seed.label}/{seed.index}/{k}")
    lang = seed.lang
    text = seed.text
    if rng.random() < 0.55:
        text = add_place(text, lang, rng)
    if rng.random() < 0.2:
        text = add_second_problem(text, lang, seed.label, seed.split, rng)
    if rng.random() < 0.2:
        text = f"{text.rstrip()} {rng.choice(EXPRESSIONS[lang])}"
    if rng.random() < 0.35:
        text = f"{rng.choice(GREETINGS[lang])} {_lower_first(text)}"
    if rng.random() < 0.3:
        text = f"{text.rstrip()} {rng.choice(CLOSINGS[lang])}"
    surface: Callable[[str], str] = rng.choices(
        [
            lambda t: t,
            strip_accents,
            lambda t: sms_style(t, lang),
            lambda t: add_typos(t, lang, rng),
            str.lower,
            str.upper,
        ],
        weights=[30, 20, 18, 22, 6, 4],
    )[0]
    return surface(text)


def expand(seeds: Iterable[Seed]) -> dict[str, list[dict[str, str]]]:
    """Expand seeds into the three splits (JSON-ready rows, duplicates removed)."""
    splits: dict[str, list[dict[str, str]]] = {s: [] for s in SPLITS}
    seen: set[str] = set()
    for seed in seeds:
        n = VARIANTS_PER_SEED[(seed.lang, seed.split)]
        k = 0
        produced = 0
        # Draw more variants when one collides with an existing text.
        while produced < n and k < n * 4:
            text = make_variant(seed, k)
            k += 1
            key = text.casefold()
            if key in seen:
                continue
            seen.add(key)
            splits[seed.split].append({"text": text, "label": seed.label, "lang": seed.lang})
            produced += 1
    return splits


# Sentences composed from lexicon.txt per (label, language), train split only.
LEXICON_SENTENCES = {"fr": 340, "en": 200}


def read_lexicon(
    path: Path = SEED_DIR / "lexicon.txt",
) -> dict[tuple[str, str], dict[str, list[str]]]:
    """Parse lexicon.txt into {(label, lang): {"subject": [...], "predicate": [...], ...}}."""
    blocks: dict[tuple[str, str], dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            label, lang = line[1:].split()
            current = blocks.setdefault((label, lang), {})
            continue
        if current is None:
            raise ValueError("lexicon entry before any '@label lang' header")
        key, _, values = line.partition(":")
        current.setdefault(key.strip(), []).extend(
            v.strip() for v in values.split("|") if v.strip()
        )
    return blocks


def compose_lexicon_seeds() -> list[Seed]:
    """Compose "subject predicate[, extra]." training seeds from the lexicon (deterministic)."""
    seeds: list[Seed] = []
    for (label, lang), parts in sorted(read_lexicon().items()):
        rng = random.Random(f"lexicon/{lang}/{label}")
        made: set[str] = set()
        attempts = 0
        while len(made) < LEXICON_SENTENCES[lang] and attempts < 5000:
            attempts += 1
            text = f"{rng.choice(parts['subject'])} {rng.choice(parts['predicate'])}"
            if parts.get("extra") and rng.random() < 0.5:
                text += f", {rng.choice(parts['extra'])}"
            text = text[:1].upper() + text[1:] + "."
            if text in made:
                continue
            made.add(text)
            seeds.append(Seed(text, label, lang, "train", 1000 + len(made)))
    return seeds


def build() -> dict[str, list[dict[str, str]]]:
    """Read all seeds and return the generated splits."""
    seeds = [s for lang in LANGS for s in read_seeds(lang)]
    splits = expand(seeds)
    seen = {r["text"].casefold() for rows in splits.values() for r in rows}
    for seed in compose_lexicon_seeds():
        # Every other composed sentence gets one noisy variant instead of its plain form.
        text = make_variant(seed, seed.index % 2)
        if text.casefold() in seen:
            continue
        seen.add(text.casefold())
        splits["train"].append({"text": text, "label": seed.label, "lang": seed.lang})
    return splits


def to_jsonl(rows: list[dict[str, str]]) -> str:
    """Serialise rows as JSON lines (UTF-8, stable key order)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, verify) nlp/corpus/{train,dev,test}.jsonl."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if files are out of date")
    args = parser.parse_args(argv)
    splits = build()
    stale = []
    for split, rows in splits.items():
        path = CORPUS_DIR / f"{split}.jsonl"
        content = to_jsonl(rows)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != content:
                stale.append(path.name)
        else:
            path.write_text(content, encoding="utf-8")
        counts = Counter((r["lang"], r["label"]) for r in rows)
        print(f"{split}: {len(rows)} examples, {len(counts)} (lang, label) cells")
    if stale:
        print(
            f"out of date: {', '.join(stale)}; run python -m nlp.corpus.generate", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
