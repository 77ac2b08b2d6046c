"""Demo content for four fictional restaurants: menus, policies and FAQs.

Used to seed the demo tenants. A few menu descriptions and FAQ answers are deliberately left as
``None`` so the "fill empty fields with an LLM" feature has something to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

DIETARY_TAGS: frozenset[str] = frozenset(
    {"vegan", "vegetarian", "gluten-free", "dairy-free", "nut-free", "spicy", "halal"}
)


@dataclass(frozen=True)
class MenuItem:
    name: str
    category: str
    description: str | None
    price: Decimal
    dietary_tags: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    title: str
    category: str
    body: str


@dataclass(frozen=True)
class Faq:
    question: str
    answer: str | None


@dataclass(frozen=True)
class DemoBusiness:
    slug: str
    name: str
    cuisine: str
    city: str
    menu: tuple[MenuItem, ...]
    policies: tuple[Policy, ...]
    faqs: tuple[Faq, ...]


def _item(name: str, category: str, description: str | None, price: str, *tags: str) -> MenuItem:
    unknown = set(tags) - DIETARY_TAGS
    if unknown:
        raise ValueError(f"unknown dietary tags for {name!r}: {sorted(unknown)}")
    return MenuItem(name, category, description, Decimal(price), tuple(tags))


# --------------------------------------------------------------------------------------------
# Forno Vesuvio - Neapolitan pizzeria
# --------------------------------------------------------------------------------------------

_FORNO_VESUVIO = DemoBusiness(
    slug="forno-vesuvio",
    name="Forno Vesuvio",
    cuisine="Neapolitan pizzeria",
    city="Chicago",
    menu=(
        _item(
            "Arancini di Riso",
            "Antipasti",
            "Three crisp saffron risotto balls filled with mozzarella and peas, served with San Marzano "
            "tomato sugo. Contains gluten (breadcrumbs), egg and dairy.",
            "12.00",
            "vegetarian",
            "nut-free",
        ),
        _item(
            "Burrata Pugliese",
            "Antipasti",
            "Creamy burrata from Puglia with heirloom cherry tomatoes, basil oil and flaky sea salt, "
            "served with wood-fired bread. Ask for it without bread to keep it gluten-free.",
            "16.00",
            "vegetarian",
            "nut-free",
        ),
        _item(
            "Fritto Misto di Mare",
            "Antipasti",
            "Lightly floured calamari, shrimp and zucchini ribbons fried to order with lemon aioli. "
            "Contains shellfish, gluten and egg.",
            "18.00",
            "nut-free",
        ),
        _item(
            "Bruschetta al Pomodoro",
            "Antipasti",
            "Grilled country bread rubbed with garlic and topped with marinated tomatoes, oregano and "
            "extra-virgin olive oil.",
            "9.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
        ),
        _item("Polpette della Nonna", "Antipasti", None, "14.00", "nut-free"),
        _item(
            "Insalata di Rucola",
            "Antipasti",
            "Wild arugula, shaved Parmigiano Reggiano, toasted pine nuts and lemon vinaigrette. "
            "Contains tree nuts and dairy.",
            "11.00",
            "vegetarian",
            "gluten-free",
        ),
        _item(
            "Marinara",
            "Pizze Rosse",
            "The original Neapolitan pie: San Marzano tomatoes, garlic, oregano and olive oil, no cheese. "
            "Naturally vegan; available on our gluten-free base for $3.",
            "13.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Margherita D.O.P.",
            "Pizze Rosse",
            "San Marzano tomatoes, fior di latte mozzarella, fresh basil and olive oil, blistered in our "
            "900-degree wood-fired oven for 90 seconds.",
            "16.00",
            "vegetarian",
            "nut-free",
        ),
        _item(
            "Diavola",
            "Pizze Rosse",
            "Tomato, fior di latte, spicy Calabrian salami and a drizzle of chili-infused honey. "
            "Our hottest pizza.",
            "19.00",
            "spicy",
            "nut-free",
        ),
        _item(
            "Capricciosa",
            "Pizze Rosse",
            "Tomato, mozzarella, cotto ham, artichoke hearts, cremini mushrooms and Gaeta olives.",
            "20.00",
            "nut-free",
        ),
        _item(
            "Vegana dell'Orto",
            "Pizze Rosse",
            "Tomato, house-made cashew mozzarella, roasted peppers, eggplant and basil. Contains tree "
            "nuts (cashew); dairy-free and fully vegan.",
            "18.00",
            "vegan",
            "vegetarian",
            "dairy-free",
        ),
        _item("Calzone Fritto", "Pizze Rosse", None, "19.00", "nut-free"),
        _item(
            "Quattro Formaggi",
            "Pizze Bianche",
            "A white pizza with fior di latte, gorgonzola dolce, fontina and Pecorino Romano, finished "
            "with cracked black pepper.",
            "19.00",
            "vegetarian",
            "nut-free",
        ),
        _item(
            "Salsiccia e Friarielli",
            "Pizze Bianche",
            "Smoked provola, fennel pork sausage and bitter broccoli rabe sauteed with garlic and chili. "
            "A Naples street classic.",
            "21.00",
            "spicy",
            "nut-free",
        ),
        _item(
            "Mortadella e Pistacchio",
            "Pizze Bianche",
            "Fior di latte and basil, topped after baking with thin-sliced mortadella, stracciatella and "
            "pistachio pesto. Contains tree nuts (pistachio) and dairy.",
            "22.00",
        ),
        _item(
            "Patate e Rosmarino",
            "Pizze Bianche",
            "Thinly sliced Yukon gold potatoes, rosemary, garlic and smoked provola on a white base.",
            "17.00",
            "vegetarian",
            "nut-free",
        ),
        _item(
            "Gnocchi alla Sorrentina",
            "Pasta",
            "Hand-rolled potato gnocchi baked in tomato sauce with mozzarella and basil. Contains gluten, "
            "egg and dairy.",
            "19.00",
            "vegetarian",
            "nut-free",
        ),
        _item(
            "Spaghetti alle Vongole",
            "Pasta",
            "Spaghetti with Manila clams, white wine, garlic, chili flakes and parsley. Contains "
            "shellfish and gluten; no dairy.",
            "24.00",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Paccheri al Ragu Napoletano",
            "Pasta",
            "Wide tubes of Gragnano pasta with a slow-braised Sunday ragu of beef short rib and pork.",
            "23.00",
            "nut-free",
        ),
        _item(
            "Tiramisù",
            "Dolci",
            "Espresso-soaked savoiardi layered with mascarpone cream and cocoa. Contains egg, dairy, "
            "gluten and a splash of Marsala.",
            "10.00",
            "vegetarian",
            "nut-free",
        ),
        _item(
            "Babà al Rum",
            "Dolci",
            "A light yeasted Neapolitan cake soaked in dark rum syrup and served with Chantilly cream.",
            "10.00",
            "vegetarian",
            "nut-free",
        ),
        _item("Sfogliatella Riccia", "Dolci", None, "6.00", "vegetarian"),
        _item(
            "Affogato",
            "Dolci",
            "A scoop of fior di latte gelato drowned in a double shot of espresso. Gluten-free.",
            "8.00",
            "vegetarian",
            "gluten-free",
            "nut-free",
        ),
        _item(
            "Limonata della Costiera",
            "Drinks",
            "House-made lemonade with Amalfi lemons and a sprig of mint.",
            "5.00",
            "vegan",
            "gluten-free",
            "nut-free",
        ),
        _item(
            "Aperol Spritz",
            "Drinks",
            "Aperol, prosecco and soda over ice with an orange slice.",
            "13.00",
            "vegan",
            "gluten-free",
        ),
        _item(
            "Aglianico Rosso (glass)",
            "Drinks",
            "A dry, structured red from Campania with notes of black cherry and smoke; pairs well with "
            "the Salsiccia.",
            "14.00",
            "gluten-free",
        ),
        _item(
            "Peroni Nastro Azzurro",
            "Drinks",
            "Crisp Italian lager, 330 ml bottle. Contains gluten.",
            "7.00",
            "vegan",
            "dairy-free",
        ),
    ),
    policies=(
        Policy(
            "Reservations",
            "reservations",
            "We take reservations for parties of 2 to 8 up to 30 days ahead through our website. About "
            "a third of our tables are held for walk-ins every night, so it is worth stopping by even "
            "when we look booked. Tables are held for 15 minutes past the reservation time.",
        ),
        Policy(
            "Cancellations and No-Shows",
            "cancellations",
            "Please cancel at least 24 hours in advance so we can offer the table to someone else. "
            "Parties of 6 or more who cancel late or do not show are charged $20 per guest on the card "
            "used to book.",
        ),
        Policy(
            "Allergens and Gluten",
            "allergens",
            "Our dough is made with Caputo 00 wheat flour, and flour is present throughout the kitchen. "
            "We offer a gluten-free base baked on a dedicated tray, but because it shares the oven we "
            "cannot guarantee it for guests with celiac disease. Tree nuts appear in our pistachio pesto "
            "and cashew mozzarella; please tell your server about any allergy before ordering.",
        ),
        Policy(
            "Private Events and Large Parties",
            "events",
            "Our back room seats up to 36 guests and can be booked exclusively for birthdays, rehearsal "
            "dinners and corporate lunches. Groups of 10 or more order from a set family-style menu "
            "starting at $45 per person. A 20% service charge is added to parties of 8 or more.",
        ),
        Policy(
            "Takeaway and Delivery",
            "takeaway",
            "Pizzas can be ordered for pickup by phone or online, and we deliver within 3 miles through "
            "our own drivers. Neapolitan pizza is best eaten within minutes of leaving the oven, so we "
            "ship it uncut in vented boxes. Pasta and desserts travel in compostable containers.",
        ),
        Policy(
            "Children",
            "children",
            "Kids are very welcome and can ask for a mini Margherita and a ball of dough to play with. "
            "High chairs are available, but we have room for only two strollers inside at a time.",
        ),
    ),
    faqs=(
        Faq(
            "What are your opening hours?",
            "We are open Tuesday to Sunday, 12 pm to 10 pm (11 pm on Fridays and Saturdays). We are "
            "closed on Mondays.",
        ),
        Faq(
            "Do you have gluten-free pizza?",
            "Yes, any pizza can be made on our gluten-free base for $3 extra. It is baked in the same oven "
            "as our wheat dough, so it is not suitable for severe celiac disease.",
        ),
        Faq(
            "What vegan options do you have?",
            "The Marinara, Bruschetta and Vegana dell'Orto with cashew mozzarella are fully vegan, and "
            "most red pizzas can be made without cheese.",
        ),
        Faq(
            "Is there parking nearby?",
            "There is metered street parking on Milwaukee Avenue and a paid lot behind the building. We "
            "are a five-minute walk from the Division Blue Line stop.",
        ),
        Faq(
            "Can I bring my own wine?",
            "Yes, corkage is $20 per 750 ml bottle, waived for one bottle if you also buy a bottle from "
            "our list.",
        ),
        Faq(
            "Do you sell gift cards?",
            "Gift cards are available at the counter and online in any amount from $25, and they never "
            "expire.",
        ),
        Faq(
            "Is the restaurant wheelchair accessible?",
            "Yes, the entrance is step-free and we have an accessible restroom on the main floor.",
        ),
        Faq("Do you sell your pizza dough to take home?", None),
        Faq(
            "Can I bring my dog?",
            "Well-behaved dogs are welcome on our sidewalk patio from May through September, and we "
            "bring out water bowls. Only service animals are allowed inside.",
        ),
    ),
)


# --------------------------------------------------------------------------------------------
# Kumo Ramen & Izakaya - Japanese
# --------------------------------------------------------------------------------------------

_KUMO_RAMEN = DemoBusiness(
    slug="kumo-ramen",
    name="Kumo Ramen & Izakaya",
    cuisine="Japanese ramen and izakaya",
    city="Seattle",
    menu=(
        _item(
            "Edamame",
            "Small Plates",
            "Steamed young soybeans tossed with flaky sea salt. Contains soy.",
            "6.00",
            "vegan",
            "vegetarian",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Spicy Garlic Edamame",
            "Small Plates",
            "Edamame wok-tossed with garlic, chili oil and soy sauce. Contains soy and wheat.",
            "8.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "spicy",
        ),
        _item(
            "Pork Gyoza",
            "Small Plates",
            "Five pan-fried dumplings filled with pork, cabbage, ginger and garlic, served with "
            "rice-vinegar dipping sauce. Contains wheat and soy.",
            "10.00",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Vegetable Gyoza",
            "Small Plates",
            "Crispy-bottomed dumplings stuffed with shiitake, tofu, napa cabbage and chives.",
            "9.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Chicken Karaage",
            "Small Plates",
            "Boneless thigh marinated in soy, ginger and sake, twice-fried in potato starch and served "
            "with Kewpie mayo and lemon. Contains egg, soy and wheat.",
            "12.00",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Takoyaki",
            "Small Plates",
            "Six Osaka-style octopus balls topped with takoyaki sauce, mayo, aonori and dancing bonito "
            "flakes. Contains shellfish, fish, egg and wheat.",
            "11.00",
            "nut-free",
        ),
        _item("Agedashi Tofu", "Small Plates", None, "9.00", "dairy-free", "nut-free"),
        _item(
            "Tonkotsu Ramen",
            "Ramen",
            "Our signature 18-hour pork bone broth with thin Hakata noodles, chashu pork belly, a soy-"
            "marinated ajitama egg, wood ear mushroom and black garlic oil. Contains wheat, egg and soy.",
            "18.00",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Shoyu Ramen",
            "Ramen",
            "Clear chicken and dashi broth seasoned with aged soy tare, wavy noodles, chashu, menma "
            "bamboo shoots, nori and scallion. Contains fish, wheat, egg and soy.",
            "17.00",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Spicy Miso Ramen",
            "Ramen",
            "Rich red miso and pork broth with thick curly noodles, ground pork, corn, bean sprouts, "
            "butter and our house rayu chili oil.",
            "18.00",
            "spicy",
            "nut-free",
        ),
        _item(
            "Tantanmen",
            "Ramen",
            "Sesame and chili broth with spicy minced pork, bok choy and crushed peanuts. Contains "
            "peanuts, sesame, wheat and soy.",
            "19.00",
            "spicy",
            "dairy-free",
        ),
        _item(
            "Vegan Shiitake Miso Ramen",
            "Ramen",
            "Kombu and shiitake dashi with white miso, soy milk, roasted corn, tofu, bok choy and "
            "sesame. Egg-free noodles; 100% plant based.",
            "17.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Yuzu Shio Ramen",
            "Ramen",
            "Light sea-salt chicken broth brightened with yuzu zest, with chicken chashu, spinach and "
            "thin straight noodles.",
            "18.00",
            "dairy-free",
            "nut-free",
        ),
        _item("Tsukemen", "Ramen", None, "20.00", "dairy-free", "nut-free"),
        _item(
            "Gluten-Free Rice Noodle Shoyu",
            "Ramen",
            "Our shoyu ramen made with rice noodles and tamari in place of soy sauce. Cooked in a "
            "separate pot on request.",
            "18.00",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Chashu Don",
            "Rice Bowls",
            "Torched pork belly chashu over steamed rice with a soft egg, pickled ginger and tare glaze.",
            "14.00",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Chicken Katsu Curry",
            "Rice Bowls",
            "Panko-crusted chicken cutlet with mild Japanese curry and fukujinzuke pickles over rice. "
            "Contains wheat, egg, milk and soy.",
            "16.00",
            "nut-free",
        ),
        _item(
            "Salmon Onigiri (2 pcs)",
            "Rice Bowls",
            "Hand-pressed rice triangles filled with grilled salted salmon and wrapped in nori.",
            "7.00",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Negima",
            "Yakitori",
            "Two skewers of chicken thigh and scallion grilled over binchotan charcoal, salt or tare.",
            "8.00",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Tsukune",
            "Yakitori",
            "Chicken and shiso meatball skewer glazed with tare and served with a raw egg yolk for dipping.",
            "9.00",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Shiitake and Shishito Skewers",
            "Yakitori",
            "Charcoal-grilled shiitake and blistered shishito peppers with yuzu kosho. About one pepper "
            "in ten is surprisingly hot.",
            "8.00",
            "vegan",
            "vegetarian",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Matcha Soft Serve",
            "Desserts",
            "Uji matcha soft serve with kinako and black sugar syrup. Contains dairy and soy.",
            "7.00",
            "vegetarian",
            "gluten-free",
            "nut-free",
        ),
        _item(
            "Black Sesame Panna Cotta",
            "Desserts",
            "Silky black sesame custard with a thin layer of kuromitsu. Contains dairy and sesame.",
            "8.00",
            "vegetarian",
            "gluten-free",
            "nut-free",
        ),
        _item("Mochi Ice Cream Trio", "Desserts", None, "8.00", "vegetarian", "gluten-free"),
        _item(
            "Sapporo Draft",
            "Drinks",
            "Crisp Japanese lager, 16 oz pour. Contains gluten.",
            "8.00",
            "vegan",
            "dairy-free",
        ),
        _item(
            "Junmai Sake Flight",
            "Drinks",
            "Three 2 oz pours of junmai sake from Niigata, Hiroshima and Yamagata, from dry to fruity.",
            "18.00",
            "vegan",
            "gluten-free",
            "dairy-free",
        ),
        _item(
            "Yuzu Highball",
            "Drinks",
            "Suntory Toki whisky with yuzu syrup and sparkling water, served ice cold.",
            "13.00",
            "vegan",
            "dairy-free",
        ),
        _item(
            "Roasted Hojicha (hot or iced)",
            "Drinks",
            "Toasty, low-caffeine roasted green tea. Free refills.",
            "4.00",
            "vegan",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
    ),
    policies=(
        Policy(
            "Walk-ins and Reservations",
            "reservations",
            "The ramen counter is walk-in only and runs on a waitlist you can join by text message. "
            "Reservations are accepted only for the izakaya tables at the back, for parties of 4 to 10, "
            "after 5 pm. We kindly ask ramen diners to keep visits to about 45 minutes on busy nights.",
        ),
        Policy(
            "Cancellations",
            "cancellations",
            "Izakaya table reservations can be cancelled free of charge up to 12 hours beforehand. Late "
            "cancellations and no-shows are charged a $15 per person fee. If you are running late, call "
            "us and we will hold the table for up to 20 minutes.",
        ),
        Policy(
            "Allergens",
            "allergens",
            "Soy, wheat, sesame and fish (bonito and dashi) are used in most of our dishes, and peanuts "
            "are used in the tantanmen. Our gluten-free rice noodles are cooked in a separate pot, but the "
            "kitchen is not gluten-free. Please ask staff for our full allergen matrix before ordering.",
        ),
        Policy(
            "Private Izakaya Parties",
            "events",
            "The tatami room can be booked privately for groups of 10 to 24 guests with an omakase "
            "izakaya menu from $55 per person and optional sake pairing. A $300 deposit secures the date "
            "and is deducted from the final bill. Groups of 6 or more receive a single check with 20% "
            "gratuity.",
        ),
        Policy(
            "Takeout Ramen",
            "takeaway",
            "All ramen is available to go, packed with broth, noodles and toppings separately so "
            "nothing gets soggy; reheat the broth before combining. Order online for pickup or through "
            "our delivery partners within a 4-mile radius.",
        ),
        Policy(
            "Pets",
            "pets",
            "Only service animals are allowed inside the restaurant because of health code rules. Our "
            "covered side patio is dog friendly and heated in winter.",
        ),
    ),
    faqs=(
        Faq(
            "What are your hours?",
            "Lunch is 11:30 am to 2:30 pm Wednesday to Sunday, and dinner is 5 pm to 11 pm daily. The "
            "izakaya stays open until 1 am on Fridays and Saturdays.",
        ),
        Faq(
            "Do you have vegan or vegetarian ramen?",
            "Yes, the Vegan Shiitake Miso Ramen uses a kombu and mushroom broth and egg-free noodles. "
            "Vegetable gyoza, edamame and the shiitake skewers are vegan too.",
        ),
        Faq(
            "Is your broth gluten-free?",
            "Our tonkotsu and shio broths contain no wheat, but tare and noodles do. Order the "
            "Gluten-Free Rice Noodle Shoyu, which uses tamari.",
        ),
        Faq(
            "Where can I park?",
            "We validate two hours in the Pike Street garage next door. Street parking in Capitol Hill "
            "is limited after 6 pm.",
        ),
        Faq(
            "Can I bring my own sake?",
            "We allow one bottle per table with a $25 corkage fee, as long as it is not on our list.",
        ),
        Faq(
            "How long is the wait for a counter seat?",
            "Weeknights are usually under 20 minutes; Friday and Saturday evenings can reach an hour. "
            "Join the text waitlist and grab a drink nearby.",
        ),
        Faq(
            "Do you sell gift cards?",
            "Digital gift cards can be bought on our website and arrive by email.",
        ),
        Faq("Can I adjust the spice level of my ramen?", None),
        Faq(
            "Is the restaurant accessible?",
            "The izakaya area and restroom are step-free. The ramen counter has high stools, so let us "
            "know and we will seat you at a regular-height table.",
        ),
        Faq("Do you offer a kids' menu?", None),
    ),
)


# --------------------------------------------------------------------------------------------
# Taquería La Lupita - Mexican
# --------------------------------------------------------------------------------------------

_LA_LUPITA = DemoBusiness(
    slug="la-lupita",
    name="Taquería La Lupita",
    cuisine="Mexican taqueria",
    city="Austin",
    menu=(
        _item(
            "Guacamole y Totopos",
            "Antojitos",
            "Hass avocado smashed to order with lime, serrano, onion and cilantro, served with "
            "fresh-fried corn tortilla chips.",
            "11.00",
            "vegan",
            "vegetarian",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Queso Fundido",
            "Antojitos",
            "Bubbling Oaxaca and Chihuahua cheese with roasted poblano and chorizo, served with flour "
            "tortillas. Ask for it without chorizo to make it vegetarian.",
            "12.00",
            "nut-free",
        ),
        _item(
            "Elote Callejero",
            "Antojitos",
            "Grilled street corn slathered with lime mayo, cotija cheese and tajin. Contains dairy and egg.",
            "6.00",
            "vegetarian",
            "gluten-free",
            "nut-free",
            "spicy",
        ),
        _item(
            "Tostada de Ceviche",
            "Antojitos",
            "Lime-cured Gulf shrimp and snapper with tomato, cucumber, red onion and avocado on a crisp "
            "corn tostada. Contains fish and shellfish.",
            "14.00",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item("Sopa de Tortilla", "Antojitos", None, "9.00", "gluten-free", "nut-free"),
        _item(
            "Taco al Pastor",
            "Tacos",
            "Achiote-marinated pork shaved from the trompo with grilled pineapple, onion and cilantro on "
            "a house-made corn tortilla.",
            "4.50",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Taco de Carne Asada",
            "Tacos",
            "Mesquite-grilled skirt steak with salsa roja, onion and cilantro on a corn tortilla.",
            "5.00",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Taco de Carnitas",
            "Tacos",
            "Michoacan-style pork confit, crispy at the edges, with pickled red onion and salsa verde.",
            "4.50",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Taco de Pollo Asado (Halal)",
            "Tacos",
            "Halal-certified chicken thigh marinated in citrus and guajillo, grilled on a separate "
            "plancha, with avocado salsa.",
            "4.50",
            "halal",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Baja Fish Taco",
            "Tacos",
            "Beer-battered cod with chipotle crema, shredded cabbage and lime on a flour tortilla. "
            "Contains fish, gluten and dairy.",
            "5.50",
            "nut-free",
        ),
        _item(
            "Taco de Birria",
            "Tacos",
            "Slow-braised beef in a chile and spice consommé, griddled with melted Oaxaca cheese and "
            "served with a cup of broth for dipping.",
            "5.50",
            "gluten-free",
            "nut-free",
        ),
        _item(
            "Taco de Hongos",
            "Tacos",
            "Roasted oyster mushrooms with epazote, charred onion and salsa macha. Contains peanuts and "
            "sesame (in the salsa macha).",
            "4.50",
            "vegan",
            "vegetarian",
            "gluten-free",
            "dairy-free",
            "spicy",
        ),
        _item(
            "Taco de Nopales",
            "Tacos",
            "Grilled cactus paddles with black beans, queso fresco and pico de gallo. Skip the cheese "
            "for a vegan taco.",
            "4.00",
            "vegetarian",
            "gluten-free",
            "nut-free",
        ),
        _item(
            "Enchiladas Verdes",
            "Platos Fuertes",
            "Three corn tortillas rolled around shredded chicken, bathed in tomatillo salsa and topped "
            "with crema, queso fresco and onion. Served with rice and beans.",
            "17.00",
            "gluten-free",
            "nut-free",
        ),
        _item(
            "Mole Poblano",
            "Platos Fuertes",
            "Braised chicken leg in our 24-ingredient mole with ancho, mulato and pasilla chiles and "
            "Mexican chocolate, topped with sesame seeds. Contains almonds, peanuts and sesame.",
            "21.00",
            "dairy-free",
        ),
        _item(
            "Chile Relleno",
            "Platos Fuertes",
            "Roasted poblano stuffed with Oaxaca cheese, dipped in egg batter and fried, in a light "
            "tomato caldillo. Contains egg and dairy.",
            "16.00",
            "vegetarian",
            "gluten-free",
            "nut-free",
        ),
        _item(
            "Burrito Lupita",
            "Platos Fuertes",
            "A 12-inch flour tortilla stuffed with your choice of meat, rice, black beans, cheese, "
            "guacamole and crema.",
            "14.00",
            "nut-free",
        ),
        _item("Cochinita Pibil Plate", "Platos Fuertes", None, "19.00", "gluten-free", "dairy-free"),
        _item(
            "Frijoles Charros",
            "Sides",
            "Pinto beans simmered with bacon, chorizo, tomato and jalapeño. Not vegetarian.",
            "5.00",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Arroz Rojo",
            "Sides",
            "Tomato rice cooked in vegetable stock with carrots and peas.",
            "4.00",
            "vegan",
            "vegetarian",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Churros con Cajeta",
            "Postres",
            "Cinnamon-sugar churros fried to order with goat's milk caramel and chocolate for dipping. "
            "Contains gluten and dairy.",
            "8.00",
            "vegetarian",
            "nut-free",
        ),
        _item(
            "Flan de Cajeta",
            "Postres",
            "Silky baked custard with a layer of cajeta caramel. Contains egg and dairy.",
            "7.00",
            "vegetarian",
            "gluten-free",
            "nut-free",
        ),
        _item("Pastel Tres Leches", "Postres", None, "8.00", "vegetarian", "nut-free"),
        _item(
            "Horchata",
            "Bebidas",
            "Cinnamon rice drink made in-house; ours is dairy-free and sweetened with piloncillo.",
            "4.00",
            "vegan",
            "vegetarian",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Agua de Jamaica",
            "Bebidas",
            "Chilled hibiscus tea with a squeeze of lime.",
            "4.00",
            "vegan",
            "vegetarian",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Margarita de la Casa",
            "Bebidas",
            "Blanco tequila, fresh lime and agave on the rocks with a salt rim. Add jalapeño for $1.",
            "11.00",
            "vegan",
            "gluten-free",
            "dairy-free",
        ),
        _item(
            "Michelada",
            "Bebidas",
            "Mexican lager with lime, Clamato, hot sauce and Worcestershire in a chile-salt rimmed glass. "
            "Contains fish and shellfish.",
            "9.00",
            "spicy",
            "dairy-free",
        ),
    ),
    policies=(
        Policy(
            "Ordering and Seating",
            "reservations",
            "We are a counter-service taqueria: order at the register and we bring the food to your "
            "table. We do not take reservations, but groups of 8 or more can call ahead and we will "
            "push tables together for you.",
        ),
        Policy(
            "Catering Cancellations",
            "cancellations",
            "Taco bar catering orders can be cancelled with a full refund up to 72 hours before the "
            "event. Cancellations within 72 hours forfeit the 50% deposit, since we start marinating "
            "meats three days ahead.",
        ),
        Policy(
            "Allergens and Dietary Needs",
            "allergens",
            "Our corn tortillas are made in-house from nixtamalized heirloom corn and contain no wheat, "
            "but they are pressed in the same room as our flour tortillas. Peanuts, almonds and sesame "
            "are in the mole and salsa macha. Our refried beans and frijoles charros contain pork, so "
            "vegetarians should order black beans instead.",
        ),
        Policy(
            "Halal Options",
            "dietary",
            "Our pollo asado uses halal-certified chicken from a local supplier and is cooked on a "
            "dedicated plancha with its own utensils. Other meats, including our pork, are not halal, "
            "and our frying oil is shared.",
        ),
        Policy(
            "Catering and Large Events",
            "events",
            "We cater taco bars for 20 to 300 guests with two to four proteins, rice, beans, salsas and "
            "tortillas, from $18 per person. A taquero can grill on site for an additional fee. Book at "
            "least two weeks ahead for weekend events.",
        ),
        Policy(
            "Dogs and Patio",
            "pets",
            "Dogs on a leash are welcome on our shaded back patio, and we keep a jar of dog treats at the "
            "register. Please keep them off the benches and inside the patio fence.",
        ),
    ),
    faqs=(
        Faq(
            "What time do you open?",
            "We open at 8 am every day for breakfast tacos and close at 10 pm, or midnight on Fridays "
            "and Saturdays.",
        ),
        Faq(
            "Are your tortillas gluten-free?",
            "Our corn tortillas are made from masa with no wheat. Flour tortillas are pressed nearby, so "
            "let us know if you have celiac disease.",
        ),
        Faq(
            "Do you have vegan options?",
            "Yes: the Taco de Hongos, guacamole, arroz rojo, horchata and the nopales taco without cheese "
            "are all vegan. Ask for black beans, which are cooked without lard.",
        ),
        Faq(
            "Is your chicken halal?",
            "The pollo asado is halal-certified and cooked on its own plancha. No other meats are halal.",
        ),
        Faq(
            "Where should I park?",
            "We have a free 20-car lot behind the building, and overflow street parking on East Cesar "
            "Chavez.",
        ),
        Faq(
            "Can I bring my dog?",
            "Leashed dogs are welcome on the back patio any time we are open.",
        ),
        Faq("Do you sell salsa by the jar?", None),
        Faq(
            "Do you have gift cards?",
            "Yes, physical gift cards are sold at the register and e-gift cards on our website.",
        ),
        Faq(
            "Is there a kids' menu?",
            "Kids 10 and under can order a cheese quesadilla or two chicken tacos with rice, beans and a "
            "drink for $7.",
        ),
    ),
)


# --------------------------------------------------------------------------------------------
# Green Fern Café - vegan brunch
# --------------------------------------------------------------------------------------------

_GREEN_FERN = DemoBusiness(
    slug="green-fern-cafe",
    name="Green Fern Café",
    cuisine="Vegan brunch café",
    city="Portland",
    menu=(
        _item(
            "Tofu Scramble",
            "Brunch Plates",
            "Turmeric-spiced organic tofu scrambled with spinach, peppers and onions, with roasted "
            "potatoes and sourdough toast. Contains soy and gluten; gluten-free toast available.",
            "15.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Fluffy Banana Pancakes",
            "Brunch Plates",
            "A stack of three buttermilk-style pancakes made with oat milk, topped with caramelized "
            "banana, maple syrup and toasted walnuts. Contains gluten and tree nuts.",
            "14.00",
            "vegan",
            "vegetarian",
            "dairy-free",
        ),
        _item(
            "Smashed Avocado Toast",
            "Brunch Plates",
            "Seeded sourdough with smashed avocado, pickled shallots, chili flakes, microgreens and "
            "lemon. Add a chickpea-flour 'egg' for $3.",
            "13.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Green Shakshuka",
            "Brunch Plates",
            "Baked tomatillo, spinach and green chili sauce with chickpeas and silken tofu 'eggs', "
            "topped with cashew feta and herbs. Served with pita; contains tree nuts and soy.",
            "16.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "spicy",
        ),
        _item(
            "Biscuits and Mushroom Gravy",
            "Brunch Plates",
            "Two flaky vegan buttermilk biscuits smothered in a peppery cremini and sage gravy, with "
            "tempeh sausage on the side.",
            "15.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Crème Brûlée French Toast",
            "Brunch Plates",
            "Thick brioche-style vegan bread soaked in a vanilla coconut custard, bruleed to a crackly "
            "crust and served with berry compote. Contains gluten and coconut.",
            "16.00",
            "vegan",
            "vegetarian",
            "dairy-free",
        ),
        _item("Breakfast Burrito", "Brunch Plates", None, "14.00", "vegan", "vegetarian", "dairy-free"),
        _item(
            "Chickpea Omelette",
            "Brunch Plates",
            "A fluffy chickpea-flour omelette filled with sauteed mushrooms, kale and sun-dried "
            "tomatoes, with a side salad. Naturally gluten-free.",
            "15.00",
            "vegan",
            "vegetarian",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Acai Bowl",
            "Bowls & Salads",
            "Blended acai, banana and blueberry topped with house granola, fresh fruit, coconut and "
            "almond butter. Contains tree nuts; gluten-free granola on request.",
            "13.00",
            "vegan",
            "vegetarian",
            "dairy-free",
        ),
        _item(
            "Sunrise Buddha Bowl",
            "Bowls & Salads",
            "Quinoa, roasted sweet potato, sesame-ginger tofu, pickled cabbage, avocado and edamame with "
            "miso-tahini dressing. Contains soy and sesame.",
            "16.00",
            "vegan",
            "vegetarian",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Kale Caesar",
            "Bowls & Salads",
            "Massaged lacinato kale with cashew-caper caesar dressing, smoky coconut 'bacon', "
            "sourdough croutons and hemp parmesan. Contains tree nuts and gluten.",
            "14.00",
            "vegan",
            "vegetarian",
            "dairy-free",
        ),
        _item("Overnight Oats", "Bowls & Salads", None, "9.00", "vegan", "vegetarian", "dairy-free"),
        _item(
            "Tempeh BLT",
            "Sandwiches",
            "Maple-smoked tempeh bacon, heirloom tomato, romaine and garlic aioli on toasted sourdough. "
            "Served with kettle chips.",
            "14.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "BBQ Jackfruit Sandwich",
            "Sandwiches",
            "Slow-cooked young jackfruit in smoky chipotle barbecue sauce with apple slaw on a toasted "
            "brioche-style bun.",
            "15.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
            "spicy",
        ),
        _item(
            "Mediterranean Hummus Wrap",
            "Sandwiches",
            "Lemony hummus, falafel, cucumber, tomato, pickled turnip and tahini sauce in a spinach "
            "tortilla. Contains sesame and gluten.",
            "13.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Grilled 'Cheese' and Tomato Soup",
            "Sandwiches",
            "Melty cashew cheddar on griddled sourdough with a cup of roasted tomato basil soup. Contains "
            "tree nuts and gluten.",
            "14.00",
            "vegan",
            "vegetarian",
            "dairy-free",
        ),
        _item(
            "Blueberry Crumb Muffin",
            "Bakery",
            "Baked every morning with wild Oregon blueberries and an oat streusel top.",
            "4.50",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Cinnamon Roll",
            "Bakery",
            "A giant brioche-style roll swirled with cinnamon and brown sugar, finished with cashew "
            "cream cheese frosting. Contains tree nuts and gluten.",
            "6.00",
            "vegan",
            "vegetarian",
            "dairy-free",
        ),
        _item(
            "Gluten-Free Chocolate Chip Cookie",
            "Bakery",
            "Chewy oat and almond flour cookie with dark chocolate chunks and sea salt. Contains tree "
            "nuts; baked in a shared kitchen.",
            "4.00",
            "vegan",
            "vegetarian",
            "gluten-free",
            "dairy-free",
        ),
        _item("Banana Bread", "Bakery", None, "4.50", "vegan", "vegetarian", "dairy-free"),
        _item(
            "Oat Milk Flat White",
            "Coffee & Juice",
            "Double ristretto from a local Portland roaster with steamed oat milk. Swap to soy, almond or "
            "coconut milk at no charge.",
            "5.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Ceremonial Matcha Latte",
            "Coffee & Juice",
            "Stone-ground matcha whisked with oat milk and a touch of agave, hot or iced.",
            "6.00",
            "vegan",
            "vegetarian",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Golden Turmeric Latte",
            "Coffee & Juice",
            "Turmeric, ginger, cinnamon and black pepper steamed with coconut milk; caffeine-free.",
            "5.50",
            "vegan",
            "vegetarian",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Green Machine Juice",
            "Coffee & Juice",
            "Cold-pressed kale, cucumber, celery, green apple, lemon and ginger.",
            "8.00",
            "vegan",
            "vegetarian",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
        _item(
            "Blood Orange Mimosa",
            "Coffee & Juice",
            "Sparkling wine with fresh-squeezed blood orange juice. Served weekends from 10 am.",
            "10.00",
            "vegan",
            "gluten-free",
            "dairy-free",
            "nut-free",
        ),
    ),
    policies=(
        Policy(
            "Reservations and Weekend Waitlist",
            "reservations",
            "We take reservations Monday to Friday for parties of up to 6. On Saturdays and Sundays "
            "brunch is first come, first served; add your name to the online waitlist and we will text "
            "you when your table is ready. Tables turn after 75 minutes on weekends.",
        ),
        Policy(
            "Cancellations",
            "cancellations",
            "Weekday reservations can be cancelled or changed online any time before your booking. "
            "Repeated no-shows may lose the ability to book online.",
        ),
        Policy(
            "100% Plant-Based Kitchen and Allergens",
            "allergens",
            "Everything we serve is vegan: no meat, fish, dairy, eggs or honey. We use a lot of cashews, "
            "almonds, soy, coconut and wheat, and all baking happens in one shared kitchen. Gluten-free "
            "and nut-free items are prepared with care, but we cannot guarantee zero cross-contact for "
            "severe allergies.",
        ),
        Policy(
            "Private Brunches and Events",
            "events",
            "The café can be booked exclusively on weekday evenings for showers, birthdays and "
            "workshops of 15 to 45 guests. We offer a brunch buffet or a plated three-course menu from "
            "$38 per person, plus a mimosa bar add-on.",
        ),
        Policy(
            "Takeaway and Zero-Waste",
            "takeaway",
            "Everything on the menu is available for pickup, packed in compostable containers. Bring your "
            "own cup or container and get 50 cents off. We do not use third-party delivery apps.",
        ),
        Policy(
            "Dogs and Families",
            "pets",
            "Dogs are welcome on our front patio and get a free house-baked peanut-butter pup cookie. "
            "Inside we have high chairs, a changing table and crayons, and kids under 5 eat free with "
            "an adult entree on weekdays.",
        ),
    ),
    faqs=(
        Faq(
            "What are your hours?",
            "We are open 8 am to 3 pm on weekdays and 8 am to 4 pm on weekends. The kitchen stops taking "
            "orders 30 minutes before closing.",
        ),
        Faq(
            "Is everything on the menu vegan?",
            "Yes, 100% of our food and drinks are plant-based, including the baked goods and the cocktails.",
        ),
        Faq(
            "Do you have gluten-free options?",
            "The chickpea omelette, Buddha bowl and chocolate chip cookie are gluten-free, and any toast "
            "can be swapped for gluten-free bread for $2.",
        ),
        Faq(
            "Which dishes are nut-free?",
            "About half the menu is nut-free, including the tofu scramble, tempeh BLT and avocado toast. "
            "Cashews are in our cheeses and dressings, so always tell your server about a nut allergy.",
        ),
        Faq(
            "Can I bring my dog?",
            "Yes, dogs are welcome on the patio and we bring them water and a pup cookie.",
        ),
        Faq(
            "Is there parking?",
            "There is free two-hour street parking on SE Division and a bike corral out front.",
        ),
        Faq("Do you sell gift cards?", None),
        Faq(
            "Is the café wheelchair accessible?",
            "Yes, the entrance has a ramp, the aisles fit a wheelchair and our restroom is fully accessible.",
        ),
        Faq("Can I order a custom vegan birthday cake?", None),
        Faq(
            "Do you serve alcohol?",
            "We serve mimosas, bloody marys and local cider on weekends from 10 am.",
        ),
    ),
)


BUSINESSES: tuple[DemoBusiness, ...] = (_FORNO_VESUVIO, _KUMO_RAMEN, _LA_LUPITA, _GREEN_FERN)

GLOSSARY_TERMS: tuple[str, ...] = (
    "sous vide",
    "mise en place",
    "umami",
    "al dente",
    "confit",
    "emulsion",
    "braise",
    "deglaze",
    "nixtamalization",
    "dashi",
    "tare",
    "koji",
    "fermentation",
    "chiffonade",
    "brunoise",
    "roux",
    "beurre blanc",
    "sofrito",
    "mole",
    "tempering",
    "Maillard reaction",
    "blanching",
    "reduction",
    "brining",
    "aquafaba",
    "leoparding",
)
