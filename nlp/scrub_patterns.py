"""Regular expressions and word lists used by the personal-data scrubber (``nlp.scrub``).

Kept apart from the scrubber so that a city can read (and extend) what is matched without
reading the matching code. Every list is lower-case; the Matcher compares on ``LOWER``/``NORM``.
"""

from __future__ import annotations

import re


def words(text: str) -> frozenset[str]:
    """Return the whitespace-separated words of ``text`` as a set (lists stay readable)."""
    return frozenset(text.split())


# --- Character clean-up --------------------------------------------------------------------

#: Invisible characters that split words without showing (copy-paste from apps, web forms).
#: They are ignored while detecting, and left in place in the public text.
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"

#: An HTML tag or comment; masked with spaces (same length) before NER so that markup is not
#: read as words, but never removed from the text.
HTML_TAG_RE = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]{0,500}>", re.DOTALL)

# --- E-mail addresses ----------------------------------------------------------------------

EMAIL_RE = re.compile(
    r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,4}(?<![.-])",
)

# "jean point dupont at gmail point com", "jean.dupont [at] gmail [dot] com",
# "sam arobase laposte point net": spelled-out separators that defeat the plain pattern.
_WORD = r"[\w+-]{1,40}"
_DOT = r"(?:\s*\.\s*|\s*[\[(]\s*(?:dot|point)\s*[\])]\s*|\s+(?:dot|point|pt)\s+)"
_AT = r"(?:\s*@\s*|\s*[\[({]\s*(?:at|arobase|@)\s*[\])}]\s*|\s+(?:at|arobase|arobas|chez)\s+)"
_LOCAL_SEP = r"(?:[._-]|\s+(?:dot|point|tiret|underscore)\s+|\s*[\[(]\s*(?:dot|point)\s*[\])]\s*)"
_TLD = r"(?:com|fr|net|org|eu|io|info|be|ch|ca|uk|de|es|it|ma|dz|tn|sn|pt|nl|lu|re|mc)"
OBFUSCATED_EMAIL_RE = re.compile(
    rf"(?<![\w@]){_WORD}(?:{_LOCAL_SEP}{_WORD}){{0,4}}{_AT}"
    rf"(?:{_WORD}{_DOT}){{1,3}}{_TLD}\b",
    re.IGNORECASE,
)

# --- Phone numbers -------------------------------------------------------------------------

_SEP = r"[ \t\u00a0\u202f.\-/]?"
#: French numbers: 0X XX XX XX XX with any usual separator, or with +33 / 0033 (and the
#: "(0)" that people keep after the country code).
FR_PHONE_RE = re.compile(
    rf"(?<![\w+])(?:(?:\+|00)\s?33{_SEP}(?:\(0\){_SEP})?|0)[1-9](?:{_SEP}\d{{2}}){{4}}(?!\d)"
)
#: Any number written with a "+" country code (or 00), 8 to 15 digits in groups.
INTL_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ \t\u00a0.\-]?(?:\(\d{1,4}\)|\d{1,5})){2,6}(?![\w])"
)
#: North-American and British national formats: (415) 555-0132, 07700 900123.
OTHER_PHONE_RE = re.compile(
    r"(?<![\w+(])(?:\(\d{3}\)\s?\d{3}[\s.\-]\d{4}|07\d{3}\s\d{6})(?!\d)",
)
PHONE_MIN_DIGITS = 8
PHONE_MAX_DIGITS = 15

# --- IBAN ----------------------------------------------------------------------------------

#: A candidate: country code, two check digits, then groups; checked with mod 97 afterwards.
IBAN_CANDIDATE_RE = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ \u00a0\-]?[A-Za-z0-9]){11,30}",
)
#: IBAN lengths of the countries a Marseille resident is likely to quote (ISO 13616 registry).
IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "CH": 21, "DE": 22, "DZ": 26, "ES": 24, "FR": 27, "GB": 22,
    "GR": 27, "IE": 22, "IT": 27, "LU": 20, "MA": 28, "MC": 27, "NL": 18, "PL": 28, "PT": 25,
    "RO": 24, "SN": 28, "TN": 24,
}  # fmt: skip
IBAN_MIN_LENGTH = 15
IBAN_MAX_LENGTH = 34

# --- French social-security numbers (NIR) -------------------------------------------------

# The NIR (numéro d'inscription au répertoire, "numéro de sécu"): sex (1, 2; 3, 4, 7, 8 for
# provisional numbers), year, month (01-12; 20-42 and 50-99 when unknown), department (01-99,
# 2A/2B for Corsica), commune (3 digits), birth order (3 digits), then an optional 2-digit key
# (97 minus the 13 first digits mod 97, with 2A read as 19 and 2B as 18).
_NIR_SEP = r"[ \u00a0\u202f.\-]?"
NIR_RE = re.compile(
    rf"(?<![\w.\-+/])(?P<sex>[1-478]){_NIR_SEP}(?P<year>\d{{2}}){_NIR_SEP}"
    rf"(?P<month>0[1-9]|1[0-2]|[2-35-9]\d|4[0-2]){_NIR_SEP}(?P<dept>\d{{2}}|2[ABab])"
    rf"{_NIR_SEP}(?P<commune>\d{{3}}){_NIR_SEP}(?P<order>\d{{3}})"
    rf"(?:{_NIR_SEP}(?P<key>\d{{2}}))?(?!\w|[.,\-/]\d)"
)
#: Words that announce a social-security number: a glued 13-digit number (no key, no
#: separators) is only taken for a NIR after one of them (it could be any reference number).
NIR_CONTEXT_RE = re.compile(
    r"(?:s[ée]cu(?:rit[ée])?\b|\bs[ée]curit[ée] sociale|\bn\.?\s?i\.?\s?r\b|\bss\b|\binsee\b"
    r"|\bvitale\b|social security|\bnir\b)[^\n]{0,30}$",
    re.IGNORECASE,
)

# --- Social-network handles ----------------------------------------------------------------

#: "@jeandupont13", "@karim_du_13", "@Sophie.M": an @ that starts a word, then a letter or an
#: underscore (an "@" before a number or a space is "at": "@ 5 rue...", "2 € @ la borne",
#: "@15h"), then up to 30 letters, digits, underscores or inner dots. The @ of an e-mail
#: address follows a character of its local part, so the look-behind leaves it to EMAIL_RE.
HANDLE_RE = re.compile(
    r"(?<![\w.+\-@])@[A-Za-z_](?:[A-Za-z0-9_]|\.(?=[A-Za-z0-9_])){1,30}(?![\w@])"
)
#: Words glued to an "@" that mean "at", not an account ("@home", "@la sortie").
HANDLE_STOPWORDS = words(
    """home work school office the la le les ma mon chez ici midi night noon"""
)

# --- Licence plates ------------------------------------------------------------------------

# SIV (since 2009): AA-123-AA; the letters I, O and U are never used, nor "SS" up front.
_SIV_L = "[A-HJ-NP-TV-Z]"
#: Hyphenated or glued SIV plates, any case ("ab-123-cd" is common in SMS).
SIV_PLATE_RE = re.compile(
    rf"(?<![\w-])(?:{_SIV_L}{{2}}-\d{{3}}-{_SIV_L}{{2}}|{_SIV_L}{{2}}\d{{3}}{_SIV_L}{{2}})(?![\w-])",
    re.IGNORECASE,
)
#: Space-separated SIV plates, upper case only: in lower case "de 123 le" would match.
SIV_PLATE_SPACED_RE = re.compile(
    rf"(?<![\w-]){_SIV_L}{{2}}[ \u00a0]\d{{3}}[ \u00a0]{_SIV_L}{{2}}(?![\w-])"
)
_DEPT = r"(?:0[1-9]|[1-8]\d|9[0-5]|2[AB]|97[1-6])"
#: FNI (before 2009): 1234 AB 13, 123 ABC 13, 12 ABC 13, with the department at the end.
FNI_PLATE_RE = re.compile(rf"(?<![\w-])\d{{1,4}}[ \u00a0-]?[A-Z]{{1,3}}[ \u00a0-]?{_DEPT}(?![\w-])")
#: Upper-case words that an FNI-shaped match must not take as its letters.
FNI_LETTER_STOPWORDS = frozenset({"RUE", "BD", "AV", "AVE", "BIS", "TER", "NO", "KM", "H", "M"})

# --- Words for the token patterns ----------------------------------------------------------

#: Street types: a capitalised word after them is part of a street name, not a person.
STREET_TYPES = words(
    """rue rues av av. ave avenue bd bd. bld boulevard bvd place pl. impasse imp. traverse
    trav. chemin ch. chem. cours quai allée allee allées allees montée montee route rte
    square sq. esplanade parvis passage corniche résidence residence cité cite lotissement
    rond-point pont port plage parc jardin square montée descente chemin_de_fer lycée collège
    école ecole gare métro metro arrêt arret station stade hôpital hopital église eglise
    tunnel fontaine statue musée musee théâtre theatre bibliothèque piscine gymnase palais
    tour fondation centre"""
)
#: English street words that follow the name ("Baker Street").
STREET_SUFFIXES_EN = words(
    "street st st. road rd rd. avenue ave lane square place drive way close gardens"
)
#: Particles inside street names ("rue de la Loge", "avenue du Prado", "rue d'Aubagne").
STREET_PARTICLES = words("de du des d' d’ la le les l' l’ saint sainte st ste of the")
#: Civilities: the name that follows is a person. They stay in the public text.
TITLES = words(
    """m. m mr mr. mrs mrs. ms ms. mme mme. mlle mlle. mmes mm. madame monsieur mademoiselle
    dr dr. docteur maître maitre me miss sir"""
)
#: Relations that announce a person ("mon voisin Karim", "my neighbour John").
RELATIONS = words(
    """voisin voisine voisins voisines fils fille mari femme épouse epouse époux epoux frère
    frere soeur sœur père pere mère mere neveu nièce niece oncle tante cousin cousine
    beau-frère beau-frere belle-soeur belle-sœur belle-mère beau-père copain copine ami amie
    collègue collegue gardien gardienne concierge locataire propriétaire proprietaire
    petit petite fiston
    neighbour neighbor neighbours neighbors son daughter husband wife brother sister father
    mother nephew niece uncle aunt cousin friend landlord tenant"""
)
#: Words before a signature or a self-introduction.
SIGN_OFFS = words(
    """signé signe cordialement salutations merci regards thanks thank cheers sincerely
    amicalement bisous"""
)
#: Words that, near a house number, make the address a person's home.
HOME_WORDS = words(
    """habite habites habitons habitez habitent habiter habitant habitante j'habite jhabite
    réside reside résidons résidant residant domicile domicilié domiciliée domicilie
    maison appartement appart apart logement immeuble bâtiment batiment bat pavillon villa
    adresse chez
    live lives living house flat apartment home address"""
)
#: "je vis au 6 ...": "vis" alone is too ambiguous (a screw), so only after "je"/"j'".
HOME_AFTER_PRONOUN = frozenset({"vis", "vit", "vivons", "suis", "loge", "demeure"})
#: Pronouns and possessives that tie a home word to a person ("ma maison", "chez moi").
PERSONAL_WORDS = words("je j' j’ moi mon ma mes nous notre nos i my our me we")

#: Words that a small French model labels PER at the start of a sentence although they are the
#: street furniture and categories residents write about ("Lampadaire éteint...").
NOT_PERSONS = words(
    """lampadaire lampadaires poubelle poubelles feu feux panneau panneaux trottoir trottoirs
    chaussée chaussee route trou nid nid-de-poule fuite fuites égout egout égouts eau
    graffiti graffitis tag tags dépôt depot dépôts encombrants épave epave épaves voiture
    voitures véhicule vehicule scooter moto motos camion camionnette bus abribus banc bancs
    fontaine borne bornes arbre arbres conteneur conteneurs container containers benne bennes
    éclairage eclairage lumière lumiere lampe ampoule bruit bruits musique tapage rodéo
    rodéos rodeo rodeos squat squats rats rat pigeons déchets dechets ordures sacs sac
    gravats matelas frigo canapé pneus plaque grille grillage barrière barriere portail
    porte escalier escaliers ascenseur parking parc square jardin aire toboggan compteur
    travaux chantier tranchée signalement bonjour bonsoir salut merci urgent attention
    svp stp mairie police rtm sncf enedis edf gdf marseille mars bjr slt wesh coucou cc
    street light lights lamp bin bins pothole graffiti rubbish litter noise drain leak
    water sign signs bench fountain hydrant traffic car van trees tree hello hi dear
    hier aujourd'hui demain lundi mardi mercredi jeudi vendredi samedi dimanche janvier
    février fevrier avril mai juin juillet août aout septembre octobre novembre décembre
    monday tuesday wednesday thursday friday saturday sunday january february march april
    june july august september october november december
    maire adjoint adjointe président presidente directeur directrice préfet prefet
    numéro numero veuillez madame monsieur"""
)
#: Common first names, used only where the context already says "a person" (after a
#: relation, a civility or a sign-off) to accept them in lower case ("mon voisin karim").
FIRST_NAMES = words(
    """karim mohamed mohammed ahmed ali omar youssef yassine mehdi rayan adam amine bilal
    nadia fatima amina yasmine ines inès samira leila leïla sarah sara myriam nour salma
    jean pierre paul jacques michel alain philippe patrick nicolas christophe olivier thomas
    julien kevin kévin anthony marc laurent stéphane stephane sébastien sebastien david
    marie sophie isabelle nathalie sandrine julie claire céline celine laura léa lea emma
    chloé chloe camille manon lucie pauline hélène helene françoise francoise josiane
    monique sylvie christine valérie valerie audrey jessica enzo lucas hugo louis gabriel
    jules nathan théo theo mathis tom liam noah rose anna john mark peter michael emily
    mehmet sofiane walid hakim nassim farid rachid said saïd abdel malik samir jérôme
    jerome bruno gérard gerard robert roger henri andré andre"""
)
