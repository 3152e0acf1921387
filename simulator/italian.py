"""Italian reference data and identifier arithmetic (codice fiscale, partita IVA, IBAN/CIN)."""
from __future__ import annotations

import datetime as dt

from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.it import codicefiscale

MALE = ("Marco Giuseppe Antonio Giovanni Luca Francesco Alessandro Andrea Matteo Lorenzo "
        "Davide Simone Federico Riccardo Stefano Paolo Roberto Massimo Fabio Daniele Salvatore "
        "Vincenzo Mario Luigi Carlo Enrico Pietro Claudio Gabriele Tommaso Nicola Filippo "
        "Emanuele Sergio Alberto Bruno Franco Giorgio Michele Raffaele").split()
FEMALE = ("Giulia Francesca Sara Martina Chiara Anna Maria Laura Valentina Alessia Elena "
          "Federica Silvia Paola Roberta Giovanna Elisa Sofia Aurora Alice Beatrice Camilla "
          "Cristina Daniela Emanuela Gabriella Ilaria Lucia Marta Monica Nadia Rita Serena "
          "Simona Teresa Veronica Angela Barbara Carla Rosa").split()
SURNAMES = ("Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno "
            "Gallo Conti DeLuca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri "
            "Fontana Santoro Mariani Rinaldi Caruso Ferrara Galli Martini Leone Longo Gentile "
            "Martinelli Vitale Lombardo Serra Coppola DeSantis DAngelo Marchetti Parisi Villa "
            "Conte Ferraro Ferri Fabbri Bianco Marini Grasso Valentini Messina Sala DeRosa "
            "Gatti Pellegrini Palumbo Sanna Farina Rizzi Monti Cattaneo Morelli Amato Silvestri "
            "Mazza Testa Grassi Pellegrino Carbone Giuliani Benedetti Barone Rossetti Caputo "
            "Montanari Guerra Palmieri Bernardi Martino Fiore DeMarco Ferretti Bellini Basile "
            "Riva Donati Piras Vitali Battaglia Sartori Neri Costantini Milani Pagano Ruggiero "
            "Sorrentino DAmico Orlando Damico Negri").split()
_SPECIAL = {"DeLuca": "De Luca", "DeSantis": "De Santis", "DAngelo": "D'Angelo",
            "DeRosa": "De Rosa", "DeMarco": "De Marco", "DAmico": "D'Amico"}
SURNAMES = [_SPECIAL.get(s, s) for s in SURNAMES]

STREETS = ("Via Roma|Via Garibaldi|Via Mazzini|Corso Italia|Via Cavour|Via Dante Alighieri|"
           "Via Verdi|Via Marconi|Piazza della Repubblica|Via XX Settembre|Via Matteotti|"
           "Viale Europa|Via Gramsci|Via San Francesco|Via Trieste|Via Trento|Via Manzoni|"
           "Corso Vittorio Emanuele II|Via Kennedy|Via dei Mille|Via Nazionale|Via Leopardi|"
           "Via Carducci|Via Pascoli|Viale della Libertà|Via Puccini|Via Milano|Via Venezia|"
           "Via Firenze|Via Napoli|Via dei Tigli|Via delle Rose|Via Don Minzoni|Via IV Novembre|"
           "Via Fratelli Bandiera|Largo Augusto|Via Vittorio Veneto|Via Papa Giovanni XXIII|"
           "Via Aldo Moro|Via della Stazione").split("|")

# (city, post code, province, cadastral code)
CITIES = [
    ("Roma", "00185", "RM", "H501"), ("Milano", "20121", "MI", "F205"),
    ("Napoli", "80133", "NA", "F839"), ("Torino", "10121", "TO", "L219"),
    ("Palermo", "90133", "PA", "G273"), ("Genova", "16121", "GE", "D969"),
    ("Bologna", "40121", "BO", "A944"), ("Firenze", "50122", "FI", "D612"),
    ("Bari", "70121", "BA", "A662"), ("Catania", "95121", "CT", "C351"),
    ("Venezia", "30121", "VE", "L736"), ("Verona", "37121", "VR", "L781"),
    ("Messina", "98121", "ME", "F158"), ("Padova", "35121", "PD", "G224"),
    ("Trieste", "34121", "TS", "L424"), ("Brescia", "25121", "BS", "B157"),
    ("Parma", "43121", "PR", "G337"), ("Taranto", "74121", "TA", "L049"),
    ("Prato", "59100", "PO", "G999"), ("Modena", "41121", "MO", "F257"),
    ("Reggio Calabria", "89121", "RC", "H224"), ("Reggio Emilia", "42121", "RE", "H223"),
    ("Perugia", "06121", "PG", "G478"), ("Livorno", "57121", "LI", "E625"),
    ("Ravenna", "48121", "RA", "H199"), ("Cagliari", "09121", "CA", "B354"),
    ("Foggia", "71121", "FG", "D643"), ("Rimini", "47921", "RN", "H294"),
    ("Salerno", "84121", "SA", "H703"), ("Ferrara", "44121", "FE", "D548"),
    ("Sassari", "07100", "SS", "I452"), ("Latina", "04100", "LT", "E472"),
    ("Monza", "20900", "MB", "F704"), ("Siracusa", "96100", "SR", "I754"),
    ("Pescara", "65121", "PE", "G482"), ("Bergamo", "24121", "BG", "A794"),
    ("Trento", "38121", "TN", "L378"), ("Vicenza", "36100", "VI", "L840"),
    ("Terni", "05100", "TR", "L117"), ("Bolzano", "39100", "BZ", "A952"),
    ("Novara", "28100", "NO", "F952"), ("Piacenza", "29121", "PC", "G535"),
    ("Ancona", "60121", "AN", "A271"), ("Lecce", "73100", "LE", "E506"),
    ("Udine", "33100", "UD", "L483"), ("Arezzo", "52100", "AR", "A390"),
    ("La Spezia", "19121", "SP", "E463"), ("Pisa", "56121", "PI", "G702"),
    ("Como", "22100", "CO", "C933"), ("Lucca", "55100", "LU", "E715"),
    ("Treviso", "31100", "TV", "L407"), ("Varese", "21100", "VA", "L682"),
    ("Pavia", "27100", "PV", "G388"), ("Cremona", "26100", "CR", "D150"),
    ("Mantova", "46100", "MN", "E897"), ("Lodi", "26900", "LO", "E648"),
]

COMPANY_WORDS = ("Costruzioni Impianti Servizi Trasporti Alimentari Edilizia Consulting "
                 "Ristorazione Meccanica Tessile Logistica Informatica Immobiliare Commercio "
                 "Elettronica Arredamenti Ceramiche Agricola Farmacia Hotel").split()
COMPANY_FORMS = ["S.r.l.", "S.r.l.", "S.r.l.", "S.p.A.", "S.n.c.", "S.a.s.", "S.r.l.s."]
MAIL_DOMAINS = ["gmail.com", "libero.it", "yahoo.it", "hotmail.it", "outlook.it", "virgilio.it",
                "alice.it", "tiscali.it", "fastwebnet.it", "icloud.com"]
# ABI codes of real Italian banks (BancoPosta included)
BANKS = [("03069", "Intesa Sanpaolo"), ("02008", "UniCredit"), ("05034", "Banco BPM"),
         ("01030", "Monte dei Paschi di Siena"), ("05387", "BPER Banca"),
         ("06230", "Crédit Agricole Italia"), ("03015", "FinecoBank"),
         ("07601", "Poste Italiane BancoPosta"), ("03104", "Deutsche Bank"),
         ("08327", "BCC di Roma")]
POD_DISTRIBUTORS = ["001", "012", "020", "040", "255", "031", "068"]

_MONTHS = "ABCDEHLMPRST"
_VOWELS = set("AEIOU")


def _letters(s: str) -> str:
    return "".join(ch for ch in s.upper() if ch.isalpha())


def surname_code(s: str) -> str:
    s = _letters(s)
    cons = [c for c in s if c not in _VOWELS]
    vows = [c for c in s if c in _VOWELS]
    return ("".join(cons + vows) + "XXX")[:3]


def name_code(s: str) -> str:
    s = _letters(s)
    cons = [c for c in s if c not in _VOWELS]
    if len(cons) >= 4:
        return cons[0] + cons[2] + cons[3]
    vows = [c for c in s if c in _VOWELS]
    return ("".join(cons + vows) + "XXX")[:3]


SURNAME_CODES = {s: surname_code(s) for s in SURNAMES}
NAME_CODES = {n: name_code(n) for n in MALE + FEMALE}


def tax_code(last: str, first: str, birth: dt.date, female: bool, cadastral: str) -> str:
    day = birth.day + (40 if female else 0)
    body = (f"{SURNAME_CODES.get(last) or surname_code(last)}"
            f"{NAME_CODES.get(first) or name_code(first)}"
            f"{birth.year % 100:02d}{_MONTHS[birth.month - 1]}{day:02d}{cadastral}")
    return body + codicefiscale.calc_check_digit(body)


def vat_number(serial: int, office: int) -> str:
    """Partita IVA: 7-digit serial, 3-digit office code (001-100), Luhn check digit."""
    body = f"{serial % 10**7 or 1:07d}{office:03d}"
    return body + luhn.calc_check_digit(body)


_CIN_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22,
            25, 24, 23]


def _cin(bban_rest: str) -> str:
    """Italian CIN over ABI+CAB+account (22 chars)."""
    total = 0
    for i, ch in enumerate(bban_rest):
        v = int(ch) if ch.isdigit() else ord(ch) - 65
        total += _CIN_ODD[v] if i % 2 == 0 else v
    return chr(65 + total % 26)


def italian_iban(abi: str, cab: str, account: str) -> str:
    rest = f"{abi}{cab}{account:0>12}"
    bban = _cin(rest) + rest
    return "IT" + stdnum_iban.calc_check_digits("IT00" + bban) + bban
