"""Where certificates come from: local authorities (real ONS codes and names), their folders and postcodes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .draw import pick

UNKNOWN_FOLDER = "domestic-_unknown_local_authority--Unknown-Local-Authority-"


@dataclass(frozen=True)
class Authority:
    code: str          # ONS code: E06000001, W06000015
    label: str         # LOCAL_AUTHORITY_LABEL, as in the data: "Kingston upon Hull, City of"
    area: str          # postcode area: TS, CF
    districts: tuple[int, ...]
    town: str          # POSTTOWN
    county: str        # COUNTY (often blank in the data)
    constituency: str  # CONSTITUENCY_LABEL

    @property
    def folder(self) -> str:
        """``domestic-E06000010-Kingston-upon-Hull-City-of``: the label with commas dropped, spaces hyphenated."""
        return f"domestic-{self.code}-{self.label.replace(',', '').replace(' ', '-')}"

    @property
    def welsh(self) -> bool:
        return self.code.startswith("W")


# Real ONS codes and names. Welsh ones are spread out so that even 3 folders include one.
AUTHORITIES: tuple[Authority, ...] = (
    Authority("E06000001", "Hartlepool", "TS", (24, 25, 26, 27), "HARTLEPOOL", "", "Hartlepool"),
    Authority("W06000015", "Cardiff", "CF", (3, 5, 10, 11, 14, 23, 24), "CARDIFF", "", "Cardiff Central"),
    Authority("E06000002", "Middlesbrough", "TS", (1, 3, 4, 5, 7), "MIDDLESBROUGH", "", "Middlesbrough"),
    Authority("E06000003", "Redcar and Cleveland", "TS", (6, 10, 11, 12, 13, 14), "REDCAR", "",
              "Redcar"),
    Authority("E06000010", "Kingston upon Hull, City of", "HU", (1, 2, 3, 4, 5, 6, 7, 8, 9), "HULL", "",
              "Kingston upon Hull East"),
    Authority("E06000004", "Stockton-on-Tees", "TS", (17, 18, 19, 20, 21), "STOCKTON-ON-TEES", "",
              "Stockton North"),
    Authority("W06000011", "Swansea", "SA", (1, 2, 3, 4, 5, 6, 7), "SWANSEA", "", "Swansea West"),
    Authority("E06000005", "Darlington", "DL", (1, 2, 3), "DARLINGTON", "", "Darlington"),
    Authority("E08000003", "Manchester", "M", (1, 4, 8, 9, 11, 12, 13, 14, 15, 16, 19, 20), "MANCHESTER",
              "Greater Manchester", "Manchester Central"),
    Authority("E08000025", "Birmingham", "B", (5, 6, 8, 10, 11, 12, 13, 14, 20, 23, 29, 31), "BIRMINGHAM",
              "West Midlands", "Birmingham, Ladywood"),
    Authority("E06000023", "Bristol, City of", "BS", (1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16), "BRISTOL", "",
              "Bristol West"),
    Authority("W06000002", "Gwynedd", "LL", (35, 36, 40, 41, 49, 53, 54, 55, 57), "CAERNARFON", "", "Arfon"),
    Authority("E08000035", "Leeds", "LS", (1, 2, 4, 6, 7, 8, 9, 11, 12, 15, 17), "LEEDS", "West Yorkshire",
              "Leeds Central"),
    Authority("E07000211", "Reigate and Banstead", "RH", (1, 2), "REIGATE", "Surrey", "Reigate"),
    Authority("E09000033", "Westminster", "SW", (1,), "LONDON", "Greater London",
              "Cities of London and Westminster"),
    Authority("E06000014", "York", "YO", (1, 10, 23, 24, 26, 30, 31, 32), "YORK", "", "York Central"),
    Authority("W06000022", "Newport", "NP", (10, 18, 19, 20), "NEWPORT", "", "Newport East"),
    Authority("E06000006", "Halton", "WA", (7, 8), "RUNCORN", "Cheshire", "Halton"),
    Authority("E06000007", "Warrington", "WA", (1, 2, 3, 4, 5), "WARRINGTON", "Cheshire", "Warrington North"),
    Authority("E06000008", "Blackburn with Darwen", "BB", (1, 2, 3), "BLACKBURN", "Lancashire", "Blackburn"),
    Authority("E06000009", "Blackpool", "FY", (1, 2, 3, 4), "BLACKPOOL", "Lancashire", "Blackpool South"),
    Authority("E06000011", "East Riding of Yorkshire", "YO", (15, 16, 25, 42, 43), "BRIDLINGTON", "",
              "Beverley and Holderness"),
    Authority("E06000012", "North East Lincolnshire", "DN", (31, 32, 33, 34, 35), "GRIMSBY", "",
              "Great Grimsby"),
    Authority("E06000013", "North Lincolnshire", "DN", (15, 16, 17, 18), "SCUNTHORPE", "", "Scunthorpe"),
    Authority("W06000001", "Isle of Anglesey", "LL", (58, 59, 60, 61, 62, 65), "HOLYHEAD", "", "Ynys Mon"),
    Authority("E06000015", "Derby", "DE", (1, 3, 21, 22, 23, 24), "DERBY", "Derbyshire", "Derby North"),
    Authority("E06000016", "Leicester", "LE", (1, 2, 3, 4, 5), "LEICESTER", "Leicestershire",
              "Leicester South"),
    Authority("E06000017", "Rutland", "LE", (15,), "OAKHAM", "", "Rutland and Melton"),
    Authority("E06000018", "Nottingham", "NG", (1, 2, 3, 5, 6, 7, 8), "NOTTINGHAM", "", "Nottingham East"),
    Authority("E06000019", "Herefordshire, County of", "HR", (1, 2, 4, 6, 8, 9), "HEREFORD", "",
              "North Herefordshire"),
    Authority("E06000020", "Telford and Wrekin", "TF", (1, 2, 3, 4, 7), "TELFORD", "Shropshire", "Telford"),
    Authority("E06000021", "Stoke-on-Trent", "ST", (1, 2, 3, 4, 6), "STOKE-ON-TRENT", "Staffordshire",
              "Stoke-on-Trent Central"),
    Authority("W06000004", "Denbighshire", "LL", (15, 16, 17, 18, 19), "RHYL", "", "Vale of Clwyd"),
    Authority("E06000022", "Bath and North East Somerset", "BA", (1, 2), "BATH", "Somerset", "Bath"),
    Authority("E06000024", "North Somerset", "BS", (20, 21, 22, 23, 24), "WESTON-SUPER-MARE", "Somerset",
              "Weston-super-Mare"),
    Authority("E06000025", "South Gloucestershire", "BS", (30, 32, 34, 35, 37), "BRISTOL",
              "Gloucestershire", "Filton and Bradley Stoke"),
    Authority("E06000026", "Plymouth", "PL", (1, 2, 3, 4, 5, 6, 7), "PLYMOUTH", "Devon",
              "Plymouth, Sutton and Devonport"),
    Authority("E06000027", "Torbay", "TQ", (1, 2, 3, 4, 5), "TORQUAY", "Devon", "Torbay"),
    Authority("E07000008", "Cambridge", "CB", (1, 2, 3, 4, 5), "CAMBRIDGE", "Cambridgeshire", "Cambridge"),
    Authority("E07000178", "Oxford", "OX", (1, 2, 3, 4), "OXFORD", "Oxfordshire", "Oxford East"),
    Authority("E09000001", "City of London", "EC", (1, 2, 3, 4), "LONDON", "Greater London",
              "Cities of London and Westminster"),
)
MAX_AUTHORITIES = len(AUTHORITIES) + 1  # + the unknown folder

INWARD = np.array([f"{d}{a}{b}" for d in range(10) for a in "ABDEFGHJLNPQRSTUWXYZ"
                   for b in "ABDEFGHJLNPQRSTUWXYZ"], dtype=object)  # "8AB": letters real postcodes use


def default_authorities(target_mb: float) -> int:
    """About one folder per 10 MB, at least 3 (so every test sees an English, a Welsh and the unknown folder)."""
    return int(min(MAX_AUTHORITIES, 40, max(3, round(target_mb / 10))))


def authority_list(count: int) -> list[Authority | None]:
    """The first ``count - 1`` authorities plus the unknown folder (None); a single folder is just Hartlepool."""
    if count < 1 or count > MAX_AUTHORITIES:
        raise ValueError(f"authorities must be between 1 and {MAX_AUTHORITIES}, got {count}")
    if count == 1:
        return [AUTHORITIES[0]]
    return [*AUTHORITIES[:count - 1], None]


def postcode_pool(rng: np.random.Generator, authority: Authority | None, size: int = 2500) -> np.ndarray:
    """A per-authority pool of postcodes (neighbours share postcodes, as in the data)."""
    if authority is None:  # unknown authority: any area
        outward = [f"{a.area}{d}" for a in AUTHORITIES for d in a.districts]
    else:
        outward = [f"{authority.area}{d}" for d in authority.districts]
    picked_out = pick(rng, np.array(outward, dtype=object), size)
    picked_in = pick(rng, INWARD, size)
    return np.array([f"{o} {i}" for o, i in zip(picked_out, picked_in)], dtype=object)
