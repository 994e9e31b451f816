//! Our business categories and the map from OpenStreetMap tags to them.
//!
//! The names are the table keys of `models/scene_categories.toml`, so the background check (what the camera sees)
//! and the location check (what is on the map around the phone) speak of the same categories; a test keeps the two
//! in step. Categories that describe no kind of business (`home_living_room`, `vehicle`, `screen_or_display`) have
//! no tags here. A POI whose tags map to nothing gets [`OTHER`].
//!
//! Pure data and lookups.

/// Category of a POI whose tags map to none of ours (a hotel, a museum ...).
pub const OTHER: &str = "other";

/// Business categories a POI (or a declared business) can have, as in `models/scene_categories.toml`.
pub const BUSINESS_CATEGORIES: &[&str] = &[
    "grocery_retail",
    "restaurant_cafe_food",
    "barbershop_beauty",
    "bookshop_stationery",
    "clothing_tailor",
    "pharmacy",
    "workshop_repair_hardware",
    "office_desk",
    "outdoors_street",
];

/// OSM keys that make a node or way a POI candidate, in the order they are looked up for a category.
pub const POI_KEYS: &[&str] = &["amenity", "shop", "craft", "office", "healthcare", "tourism", "leisure"];

/// `(key, value, category)`; value `*` matches any value of that key. Looked up key by key in [`POI_KEYS`] order,
/// exact values before `*`.
pub const OSM_TAG_CATEGORIES: &[(&str, &str, &str)] = &[
    // Food and drink.
    ("amenity", "restaurant", "restaurant_cafe_food"),
    ("amenity", "cafe", "restaurant_cafe_food"),
    ("amenity", "fast_food", "restaurant_cafe_food"),
    ("amenity", "food_court", "restaurant_cafe_food"),
    ("amenity", "ice_cream", "restaurant_cafe_food"),
    ("amenity", "bar", "restaurant_cafe_food"),
    ("amenity", "pub", "restaurant_cafe_food"),
    ("amenity", "biergarten", "restaurant_cafe_food"),
    ("shop", "coffee", "restaurant_cafe_food"),
    ("shop", "tea", "restaurant_cafe_food"),
    // Groceries and general retail.
    ("shop", "supermarket", "grocery_retail"),
    ("shop", "convenience", "grocery_retail"),
    ("shop", "grocery", "grocery_retail"),
    ("shop", "greengrocer", "grocery_retail"),
    ("shop", "bakery", "grocery_retail"),
    ("shop", "butcher", "grocery_retail"),
    ("shop", "confectionery", "grocery_retail"),
    ("shop", "pastry", "grocery_retail"),
    ("shop", "deli", "grocery_retail"),
    ("shop", "seafood", "grocery_retail"),
    ("shop", "cheese", "grocery_retail"),
    ("shop", "beverages", "grocery_retail"),
    ("shop", "alcohol", "grocery_retail"),
    ("shop", "wine", "grocery_retail"),
    ("shop", "kiosk", "grocery_retail"),
    ("shop", "general", "grocery_retail"),
    ("shop", "variety_store", "grocery_retail"),
    ("shop", "department_store", "grocery_retail"),
    ("shop", "tobacco", "grocery_retail"),
    ("shop", "toys", "grocery_retail"),
    ("shop", "gift", "grocery_retail"),
    ("amenity", "marketplace", "outdoors_street"),
    // Hair and beauty.
    ("shop", "hairdresser", "barbershop_beauty"),
    ("shop", "beauty", "barbershop_beauty"),
    ("shop", "cosmetics", "barbershop_beauty"),
    ("shop", "perfumery", "barbershop_beauty"),
    ("shop", "hairdresser_supply", "barbershop_beauty"),
    ("shop", "massage", "barbershop_beauty"),
    ("shop", "tattoo", "barbershop_beauty"),
    // Clothing.
    ("shop", "clothes", "clothing_tailor"),
    ("shop", "tailor", "clothing_tailor"),
    ("shop", "shoes", "clothing_tailor"),
    ("shop", "fashion", "clothing_tailor"),
    ("shop", "boutique", "clothing_tailor"),
    ("shop", "fabric", "clothing_tailor"),
    ("shop", "sewing", "clothing_tailor"),
    ("shop", "bag", "clothing_tailor"),
    ("shop", "leather", "clothing_tailor"),
    ("shop", "second_hand", "clothing_tailor"),
    ("shop", "fashion_accessories", "clothing_tailor"),
    ("craft", "tailor", "clothing_tailor"),
    ("craft", "dressmaker", "clothing_tailor"),
    ("craft", "shoemaker", "clothing_tailor"),
    // Books, stationery, printing.
    ("shop", "books", "bookshop_stationery"),
    ("shop", "stationery", "bookshop_stationery"),
    ("shop", "copyshop", "bookshop_stationery"),
    ("shop", "newsagent", "bookshop_stationery"),
    ("amenity", "library", "bookshop_stationery"),
    ("craft", "printer", "bookshop_stationery"),
    ("craft", "bookbinder", "bookshop_stationery"),
    // Pharmacy and health.
    ("amenity", "pharmacy", "pharmacy"),
    ("amenity", "clinic", "pharmacy"),
    ("amenity", "doctors", "pharmacy"),
    ("amenity", "dentist", "pharmacy"),
    ("shop", "chemist", "pharmacy"),
    ("shop", "medical_supply", "pharmacy"),
    ("shop", "optician", "pharmacy"),
    ("shop", "hearing_aids", "pharmacy"),
    ("healthcare", "*", "pharmacy"),
    // Workshops, repair, hardware.
    ("shop", "hardware", "workshop_repair_hardware"),
    ("shop", "doityourself", "workshop_repair_hardware"),
    ("shop", "car_repair", "workshop_repair_hardware"),
    ("shop", "car_parts", "workshop_repair_hardware"),
    ("shop", "tyres", "workshop_repair_hardware"),
    ("shop", "bicycle", "workshop_repair_hardware"),
    ("shop", "motorcycle_repair", "workshop_repair_hardware"),
    ("shop", "electronics_repair", "workshop_repair_hardware"),
    ("shop", "mobile_phone_repair", "workshop_repair_hardware"),
    ("shop", "trade", "workshop_repair_hardware"),
    ("shop", "paint", "workshop_repair_hardware"),
    ("shop", "locksmith", "workshop_repair_hardware"),
    ("shop", "craft", "workshop_repair_hardware"),
    ("amenity", "car_repair", "workshop_repair_hardware"),
    ("amenity", "fuel", "workshop_repair_hardware"),
    ("craft", "*", "workshop_repair_hardware"),
    // Offices.
    ("office", "*", "office_desk"),
    ("amenity", "bank", "office_desk"),
    ("amenity", "bureau_de_change", "office_desk"),
    ("amenity", "coworking_space", "office_desk"),
    ("amenity", "post_office", "office_desk"),
    ("amenity", "townhall", "office_desk"),
];

/// Whether `name` is one of [`BUSINESS_CATEGORIES`].
pub fn is_business_category(name: &str) -> bool {
    BUSINESS_CATEGORIES.contains(&name)
}

/// Category for one OSM tag, if mapped.
pub fn category_for_tag(key: &str, value: &str) -> Option<&'static str> {
    let exact = OSM_TAG_CATEGORIES.iter().find(|(k, v, _)| *k == key && *v == value);
    let any = || OSM_TAG_CATEGORIES.iter().find(|(k, v, _)| *k == key && *v == "*");
    exact.or_else(any).map(|(_, _, c)| *c)
}

/// Category for a POI's tags: the first mapped tag in [`POI_KEYS`] order (a cafe that also has `office=*` is a
/// cafe). `None` when no tag maps.
pub fn category_for_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)> + Clone) -> Option<&'static str> {
    POI_KEYS
        .iter()
        .find_map(|key| tags.clone().into_iter().filter(|(k, _)| k == key).find_map(|(k, v)| category_for_tag(k, v)))
}
