"""The words certificates are made of: weighted pools of the real dump's values, its sentinels and its mistakes.

Each :class:`~samples.draw.Pool` holds CSV-ready strings (already quoted where needed) and their weights.
"""

from __future__ import annotations

import numpy as np

from .draw import Pool

RATING_BY_EFFICIENCY = np.array(["G"] * 21 + ["F"] * 18 + ["E"] * 16 + ["D"] * 14 + ["C"] * 12 + ["B"] * 11
                                + ["A"] * 9, dtype=object)  # index 0..100; A 92+, B 81-91, ... G 1-20
EFF_WORDS = Pool({"Very Good": 12, "Good": 30, "Average": 30, "Poor": 18, "Very Poor": 10})

PROPERTY_TYPE = Pool({"House": 55, "Flat": 20, "Bungalow": 10, "Maisonette": 4, "Park home": 0.3})
BUILT_FORM = Pool({"Semi-Detached": 30, "Mid-Terrace": 25, "End-Terrace": 14, "Detached": 20,
                   "Enclosed Mid-Terrace": 2, "Enclosed End-Terrace": 1, "NO DATA!": 3})
TRANSACTION_TYPE = Pool({
    "marketed sale": 35, "rental (private)": 20, "rental (social)": 14, "new dwelling": 12, "ECO assessment": 6,
    "FiT application": 3, "RHI application": 1, "Stock Condition Survey": 1, "none of the above": 4,
    "assessment for green deal": 1, "not recorded": 1,
    "rental - this is for backwards compatibility only and should not be used": 0.5,
    "Non marketed sale": 1, "NO DATA!": 0.5,
})
ENERGY_TARIFF = Pool({"Single": 60, "dual": 18, "off-peak 7 hour": 4, "24 hour": 2, "Unknown": 6,
                      "dual (24 hour)": 1, "off-peak 10 hour": 1, "NO DATA!": 5, "INVALID!": 1})
YNB = Pool({"Y": 70, "N": 22, "": 8})
FLOOR_GROUND = Pool({"Ground": 60, "00": 25, "0": 0.1, "ground floor": 5, "Basement": 3, "NODATA!": 3})
FLOOR_MID = Pool({"1st": 30, "01": 25, "02": 12, "2nd": 10, "mid floor": 10, "1.0": 3, "3rd": 5, "03": 5})
FLOOR_TOP = Pool({"top floor": 30, "02": 20, "3rd": 15, "04": 10, "21st or above": 2, "5th": 5, "2nd": 15})
FLOOR_HOUSE = Pool({"": 85, "NODATA!": 12, "Ground": 3})
GLAZED_TYPE = Pool({
    "double glazing installed before 2002": 25, "double glazing installed during or after 2002": 35,
    "double glazing, unknown install date": 18, "triple glazing": 1, "single glazing": 3, "secondary glazing": 1,
    "not defined": 4, "NO DATA!": 8, "INVALID!": 1,
})
GLAZED_AREA = Pool({"Normal": 80, "More Than Typical": 5, "Less Than Typical": 3, "Much More Than Typical": 1,
                    "Much Less Than Typical": 0.5, "NO DATA!": 10})
HOTWATER = Pool({
    "From main system": 70, "From main system, no cylinder thermostat": 6, "Electric immersion, off-peak": 8,
    "Electric immersion, standard tariff": 4, "Gas multipoint": 1, "From main system, waste water heat recovery": 1,
    "Community scheme": 2, "From main system, plus solar": 1, "No system present: electric immersion assumed": 1,
})
FLOOR_DESC = Pool({
    "Suspended, no insulation (assumed)": 25, "Solid, no insulation (assumed)": 30, "Solid, insulated": 5,
    "To unheated space, insulated (assumed)": 2, "Suspended, insulated (assumed)": 3, "Solid, limited insulation "
    "(assumed)": 4, "Average thermal transmittance 0.13 W/m²K": 5, "Average thermal transmittance 0.22 W/m²K": 3,
    "To external air, no insulation (assumed)": 1,
})
WINDOWS = Pool({"Fully double glazed": 70, "Partial double glazing": 8, "Single glazed": 3, "Full secondary "
                "glazing": 1, "High performance glazing": 8, "Fully triple glazed": 1, "Multiple glazing throughout": 4,
                "Mostly double glazing": 5})
WALLS = Pool({
    "Cavity wall, as built, insulated (assumed)": 22, "Cavity wall, filled cavity": 20,
    "Cavity wall, as built, no insulation (assumed)": 12, "Cavity wall, as built, partial insulation (assumed)": 4,
    "Solid brick, as built, no insulation (assumed)": 14, "Solid brick, with internal insulation": 1,
    "Solid brick, with external insulation": 1, "Timber frame, as built, insulated (assumed)": 3,
    "System built, as built, no insulation (assumed)": 2,
    "Sandstone or limestone, as built, no insulation (assumed)": 1,
    "Average thermal transmittance 0.28 W/m²K": 5, "Average thermal transmittance 0.18 W/m²K": 3,
    "Average thermal transmittance 0.30 W/m2K": 0.5,
    "Cavity wall, filled cavity, Cavity wall, filled cavity": 0.5,
})
SECONDHEAT = Pool({"None": 72, "Room heaters, electric": 14, "Room heaters, mains gas": 6,
                   "Room heaters, wood logs": 4, "Portable electric heaters (assumed)": 2,
                   "Room heaters, dual fuel (mineral and wood)": 1, "Room heaters, coal": 0.5})
ROOF = Pool({
    "Pitched, 270 mm loft insulation": 22, "Pitched, 200 mm loft insulation": 12, "Pitched, 100 mm loft insulation": 12,
    "Pitched, 300+ mm loft insulation": 8, "Pitched, no insulation (assumed)": 4, "Pitched, insulated (assumed)": 8,
    "Flat, no insulation (assumed)": 3, "Flat, insulated (assumed)": 2, "Roof room(s), insulated (assumed)": 4,
    "Roof room(s), no insulation (assumed)": 1, "Average thermal transmittance 0.13 W/m²K": 6,
    "Pitched, 12 mm loft insulation": 1, "Pitched, limited insulation (assumed)": 2,
})
MAINHEAT = Pool({
    "Boiler and radiators, mains gas": 72, "Boiler and radiators, mains gas, Boiler and radiators, mains gas": 1,
    "Electric storage heaters": 7, "Air source heat pump, radiators, electric": 3, "Boiler and radiators, oil": 3,
    "Room heaters, electric": 3, "Community scheme": 2, "Boiler and underfloor heating, mains gas": 2,
    "Boiler and radiators, LPG": 1, "Electric underfloor heating": 1, "Warm air, mains gas": 1, "NO DATA!": 1,
})
MAINHEATCONT = Pool({
    "Programmer, room thermostat and TRVs": 50, "Programmer, TRVs and bypass": 10, "Time and temperature zone control":
    6, "Manual charge control": 5, "Programmer and room thermostat": 10, "Programmer and appliance thermostats": 4,
    "Room thermostat only": 4, "No time or thermostatic control of room temperature": 2,
    "Automatic charge control": 4, "Flat rate charging, TRVs": 1, "%%MAINHEATCONTROL%%": 0.3,
})
MAIN_FUEL = Pool({
    "mains gas (not community)": 70, "electricity (not community)": 12, "oil (not community)": 3,
    "mains gas - this is for backwards compatibility only and should not be used": 5,
    "Electricity: electricity, unspecified tariff": 3, "LPG (not community)": 1, "NO DATA!": 2,
    "To be used only when there is no heating/hot-water system": 1, "smokeless coal": 0.5,
    "wood logs": 0.5, "mains gas (community)": 1,
})
HEAT_LOSS_FLAT = Pool({"no corridor": 40, "unheated corridor": 35, "heated corridor": 15, "NO DATA!": 10})
HEAT_LOSS_HOUSE = Pool({"": 80, "NO DATA!": 20})
MECH_VENT = Pool({"natural": 85, "mechanical, extract only": 6, "mechanical, supply and extract": 2,
                  "NO DATA!": 5, "": 2})
AGE_BAND = Pool({
    "England and Wales: before 1900": 12, "England and Wales: 1900-1929": 13, "England and Wales: 1930-1949": 14,
    "England and Wales: 1950-1966": 13, "England and Wales: 1967-1975": 11, "England and Wales: 1976-1982": 6,
    "England and Wales: 1983-1990": 6, "England and Wales: 1991-1995": 4, "England and Wales: 1996-2002": 5,
    "England and Wales: 2003-2006": 4, "England and Wales: 2007 onwards": 3, "England and Wales: 2007-2011": 2,
    "England and Wales: 2012 onwards": 2, "2015": 0.5, "2019": 0.5, "2021": 0.3, "NO DATA!": 2, "INVALID!": 0.5,
    "Not applicable": 0.3, "": 1.5,
})
TENURE = Pool({
    "owner-occupied": 35, "Owner-occupied": 12, "rental (private)": 14, "Rented (private)": 6,
    "rental (social)": 12, "Rented (social)": 4, "unknown": 3, "NO DATA!": 3, "Not defined - use in the case of a "
    "new dwelling for which the intended tenure in not known. It is no": 5, "": 2,
})
SOLAR_FLAG = Pool({"N": 80, "Y": 1, "": 19})
UPRN_SOURCE = Pool({"Address Matched": 85, "Energy Assessor": 15})
COUNTY_BLANK = 0.5

# Welsh-language variants: in Welsh authorities some certificates are lodged in Welsh.
WELSH_SHARE = 0.15
WALLS_CY = Pool(["Waliau ceudod, ceudod wedi?i lenwi",
                 "Waliau ceudod, fel y?u hadeiladwyd, dim inswleiddio (rhagdybiaeth)",
                 "Briciau solet, fel y?u hadeiladwyd, dim inswleiddio (rhagdybiaeth)"])
ROOF_CY = Pool(["Ar oleddf, 270 mm o inswleiddio yn y llofft", "Ar oleddf, dim inswleiddio (rhagdybiaeth)"])
WINDOWS_CY = Pool(["Gwydrau dwbl llawn", "Gwydrau dwbl rhannol"])
MAINHEAT_CY = Pool(["Bwyler a rheiddiaduron, nwy prif gyflenwad", "Gwresogyddion storio trydan"])
MAINHEATCONT_CY = Pool(["Rhaglennydd, thermostat ystafell a TRVs", "Rhaglennydd a thermostat ystafell"])
HOTWATER_CY = Pool(["O?r brif system", "Trochi trydan, allfrig"])
SECONDHEAT_CY = Pool(["Dim", "Gwresogyddion ystafell, trydan"])
LIGHTING_CY = Pool(["Goleuadau ynni-isel ym mhob un o?r mannau gosod",
                    "Goleuadau ynni-isel mewn 50% o?r mannau gosod"])

STREETS = [
    "High Street", "Station Road", "Church Lane", "Park Avenue", "Mill Lane", "Victoria Road", "Queen Street",
    "King Street", "Manor Road", "The Green", "York Road", "St John's Road", "St. Mary's Close", "Oakwood Drive",
    "Elm Grove", "Beech Avenue", "Chestnut Close", "Windsor Road", "Albert Street", "Grange Road", "Hill Crescent",
    "Westfield Way", "Marine Parade", "Front Street", "Lime Tree Walk", "Woodland View", "Orchard Court",
    "Ashfield Terrace", "Coronation Street", "Springfield Road", "Heol y Frenhines", "Ffordd yr Eglwys",
]
LOCALITIES = ["Seaton Carew", "Greatham", "Hart", "Elwick", "Dalton Piercy", "Llandaff", "Roath", "Canton",
              "Old Town", "Westbrook", "Northgate", "Southfield", "Eastfield"]
BUILDINGS = ["Rose Court", "Victoria House", "Mill View", "The Maltings", "Kingsway House", "Riverside Apartments",
             "Harbour Point", "Clifton Mansions"]
