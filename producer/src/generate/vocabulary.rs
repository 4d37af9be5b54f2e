//! The words, names and places the synthetic population is made of.
//!
//! Data, not logic: kept apart (and out of rustfmt's one-item-per-line layout) so `world.rs`
//! stays readable.

/// Ways people write a city in their profile, with relative frequencies; each base place spawns
/// these variants, which is how a few hundred places become a few thousand distinct strings.
pub(super) const VARIANTS: &[(u32, f64)] = &[
    (0, 30.0), // "Paris"
    (1, 20.0), // "Paris, France"
    (2, 10.0), // "Paris, FR"
    (3, 5.0),  // "paris"
    (4, 2.0),  // "PARIS"
    (5, 3.0),  // "  Paris  " (padded; trims to "Paris")
    (6, 3.0),  // "Paris 🇫🇷"-like emoji suffix
    (7, 6.0),  // "France"
    (8, 2.0),  // "Paris | France"
    (9, 1.5),  // "Paris (France)"
    (10, 1.5), // "📍 Paris"
    (11, 1.0), // "Paris\n" (trims to "Paris")
    (12, 1.0), // "Greater Paris Area"
    (13, 1.0), // "Paris ✈ London"
    (14, 1.0), // "Paris, France 🌍"
];

pub(super) const EMOJI_SUFFIX: &[&str] = &["🌍", "✨", "💕", "☀️", "🏙", "🌴", "❤️", "⚽"];

/// Base places in rough order of popularity: `city|country|short`. An empty country marks a
/// string that is not a city: all its variants are the string itself.
pub(super) const PLACES: &str = "\
London|United Kingdom|UK
New York|USA|NY
Los Angeles|USA|CA
東京|日本|JP
São Paulo|Brasil|SP
Paris|France|FR
Jakarta|Indonesia|ID
Chicago|USA|IL
Toronto|Canada|ON
Lagos|Nigeria|NG
Mumbai|India|IN
Madrid|España|ES
Ciudad de México|México|MX
Buenos Aires|Argentina|AR
Manila|Philippines|PH
Rio de Janeiro|Brasil|RJ
Worldwide||
Istanbul|Türkiye|TR
Houston|USA|TX
Atlanta|USA|GA
Seoul|South Korea|KR
Bangkok|Thailand|TH
Sydney|Australia|NSW
Berlin|Deutschland|DE
Washington|USA|DC
Dallas|USA|TX
Kuala Lumpur|Malaysia|MY
Johannesburg|South Africa|ZA
Nairobi|Kenya|KE
Barcelona|España|ES
San Francisco|USA|CA
Manchester|England|UK
Boston|USA|MA
Osaka|日本|JP
Santiago|Chile|CL
Bogotá|Colombia|CO
Lima|Perú|PE
Caracas|Venezuela|VE
Miami|USA|FL
Philadelphia|USA|PA
Earth||
Seattle|USA|WA
Melbourne|Australia|VIC
Dublin|Ireland|IE
Amsterdam|Nederland|NL
Rome|Italia|IT
Milano|Italia|IT
Москва|Россия|RU
Kyiv|Ukraine|UA
Cairo|Egypt|EG
Riyadh|Saudi Arabia|SA
Dubai|UAE|AE
Karachi|Pakistan|PK
Delhi|India|IN
Bangalore|India|KA
Hyderabad|India|TS
Chennai|India|TN
Kolkata|India|WB
Dhaka|Bangladesh|BD
서울|대한민국|KR
大阪|日本|JP
Nagoya|Japan|JP
北京|中国|CN
Shanghai|China|CN
Hong Kong|Hong Kong|HK
Taipei|Taiwan|TW
Singapore|Singapore|SG
Hà Nội|Việt Nam|VN
Ho Chi Minh City|Vietnam|VN
Auckland|New Zealand|NZ
Vancouver|Canada|BC
Montréal|Québec|QC
Calgary|Canada|AB
Ottawa|Canada|ON
Denver|USA|CO
Phoenix|USA|AZ
Las Vegas|USA|NV
Austin|USA|TX
San Diego|USA|CA
Portland|USA|OR
Detroit|USA|MI
Minneapolis|USA|MN
Nashville|USA|TN
New Orleans|USA|LA
Orlando|USA|FL
Tampa|USA|FL
Charlotte|USA|NC
Baltimore|USA|MD
Pittsburgh|USA|PA
Cleveland|USA|OH
St. Louis|USA|MO
Kansas City|USA|MO
Brooklyn|USA|NY
the internet||
Glasgow|Scotland|UK
Edinburgh|Scotland|UK
Liverpool|England|UK
Birmingham|England|UK
Leeds|England|UK
Cardiff|Wales|UK
Belfast|Northern Ireland|UK
München|Deutschland|DE
Hamburg|Deutschland|DE
Köln|Deutschland|DE
Düsseldorf|Deutschland|DE
Frankfurt|Deutschland|DE
Wien|Österreich|AT
Zürich|Schweiz|CH
Genève|Suisse|CH
Bruxelles|Belgique|BE
Lyon|France|FR
Marseille|France|FR
Toulouse|France|FR
Lisboa|Portugal|PT
Porto|Portugal|PT
Sevilla|España|ES
Valencia|España|ES
Napoli|Italia|IT
Torino|Italia|IT
Athens|Greece|GR
Αθήνα|Ελλάδα|GR
Warszawa|Polska|PL
Kraków|Polska|PL
Praha|Česko|CZ
Budapest|Magyarország|HU
București|România|RO
Stockholm|Sverige|SE
Malmö|Sverige|SE
Oslo|Norge|NO
København|Danmark|DK
Helsinki|Suomi|FI
Reykjavík|Ísland|IS
Санкт-Петербург|Россия|RU
İzmir|Türkiye|TR
Ankara|Türkiye|TR
Tel Aviv|Israel|IL
القاهرة|مصر|EG
الرياض|السعودية|SA
جدة|السعودية|SA
Kuwait|Kuwait|KW
Doha|Qatar|QA
Tehran|Iran|IR
Casablanca|Maroc|MA
Tunis|Tunisie|TN
Accra|Ghana|GH
Abuja|Nigeria|NG
Kampala|Uganda|UG
Addis Ababa|Ethiopia|ET
Cape Town|South Africa|ZA
Durban|South Africa|ZA
Harare|Zimbabwe|ZW
Quito|Ecuador|EC
Montevideo|Uruguay|UY
Asunción|Paraguay|PY
La Paz|Bolivia|BO
Medellín|Colombia|CO
Guadalajara|México|MX
Monterrey|México|MX
San Juan|Puerto Rico|PR
Kingston|Jamaica|JM
Havana|Cuba|CU
Belo Horizonte|Brasil|MG
Porto Alegre|Brasil|RS
Salvador|Brasil|BA
Recife|Brasil|PE
Fortaleza|Brasil|CE
Curitiba|Brasil|PR
Brasília|Brasil|DF
मुंबई|भारत|IN
नई दिल्ली|भारत|IN
กรุงเทพฯ|ประเทศไทย|TH
Surabaya|Indonesia|ID
Bandung|Indonesia|ID
Cebu|Philippines|PH
Perth|Australia|WA
Brisbane|Australia|QLD
Adelaide|Australia|SA
Wellington|New Zealand|NZ
Honolulu|USA|HI
Anchorage|USA|AK
everywhere & nowhere||
she/her||
in your heart 💕||
127.0.0.1||
Hogwarts||
🇧🇷||
🌈||
somewhere over the rainbow||
Mars||
under your bed||
";

/// Common first parts of screen names and display names.
pub(super) const FIRST: &[&str] = &[
    "john", "maria", "alex", "sam", "chris", "lucas", "emma", "sofia", "yuki", "kenji", "ana",
    "pedro", "ahmed", "fatima", "ivan", "olga", "david", "sarah", "mike", "laura", "james", "kate",
    "leo", "mia", "noah", "lily", "omar", "aisha", "diego", "camila", "hiro", "sakura", "min",
    "jin", "raj", "priya", "tom", "anna", "ben", "nina", "the", "real", "its", "official", "mr",
    "miss", "dj", "sweet", "crazy", "little", "big", "dark", "happy", "lazy", "golden", "silver",
    "blue", "red", "green", "pink", "cosmic", "pixel", "urban", "wild", "lucky", "super", "mega",
    "hyper", "retro", "neon", "lunar", "solar", "night", "daily", "just", "not", "only", "true",
    "team", "club", "radio", "planet", "indie", "smol", "grumpy", "salty", "spicy", "chill", "epic",
    "king", "queen", "prince", "lady", "captain", "doctor", "uncle", "auntie", "baby",
];

pub(super) const SECOND: &[&str] = &[
    "smith", "garcia", "tanaka", "silva", "kim", "nguyen", "news", "fan", "gamer", "tv", "music",
    "daily", "world", "life", "sports", "fc", "vibes", "art", "tweets", "love", "kitty", "wolf",
    "dragon", "rider", "coder", "writer", "chef", "films", "photo", "style", "beauty", "travel",
    "books", "lover", "girl", "boy", "man", "woman", "kid", "squad", "nation", "army", "stan",
    "updates", "info", "hq", "central", "zone", "land", "city", "online", "media", "press", "times",
    "post", "report", "live", "radio", "studio", "records", "games", "play", "plays", "bot", "x",
    "xo", "tea", "coffee", "pizza", "taco", "sushi", "cat", "dog", "panda", "fox", "bear", "bird",
    "star", "moon", "sun", "sky", "rain", "storm", "fire", "ice", "stone", "rose", "lee", "jones",
    "brown", "martin", "lopez", "santos", "sato", "suzuki", "park", "chen", "wang", "singh", "khan",
];

/// Display names: some users use a real-looking name, many do not.
pub(super) const GIVEN: &[&str] = &[
    "John", "María José", "Alex", "Samantha", "Chris", "Lucas", "Emma", "Sofía", "Yuki", "健二",
    "Ana", "Pedro", "Ahmed", "فاطمة", "Иван", "Olga", "David", "Sarah", "Mike", "Laura", "James",
    "Kate", "Léo", "Mia", "Noah", "Lily", "Omar", "Aisha", "Diego", "Camila", "ひろし", "さくら", "민준",
    "지우", "Raj", "Priya", "Tom", "Anna", "Jürgen", "Zoë", "Björn", "Chloé", "Ngozi", "Kwame",
    "Thandiwe", "Mateus", "Joaquín", "François", "Ayşe", "Mehmet",
];

pub(super) const FAMILY: &[&str] = &[
    "Smith", "García", "Tanaka", "Silva", "Kim", "Nguyen", "Jones", "Brown", "Martin", "López",
    "Santos", "佐藤", "鈴木", "Park", "Chen", "王", "Singh", "Khan", "Müller", "Rossi", "Dubois",
    "Kowalski", "Novák", "Petrov", "Yılmaz", "Okafor", "Mensah", "O'Brien", "MacLeod", "Ødegaard",
];

pub(super) const NAME_DECOR: &[&str] = &[
    "", "", "", "", "", " ✨", " 🌸", " 🏳️‍🌈", " ⚽", " 🎮", " | Official", " (parody)", " 🇧🇷", " 💜",
    " \"the boss\"", " ☕️",
];

/// Screen names of the very top ranks: the head of the mention distribution, like the big brand
/// and giveaway accounts that dominate real mention counts.
pub(super) const TOP_ACCOUNTS: &[&str] = &[
    "WorldNewsLive", "CSGOEmpire", "FootyDaily", "PopCultureHQ", "GameDealsNow", "KpopUpdates",
    "NBA_Central", "MusicCharts", "TechInsider", "BreakingAlerts", "NetflixFans", "AnimeDaily",
    "EsportsWire", "CelebGossip", "GiveawayKing", "WeatherNow", "MarketWatcher", "FilmBuffs",
    "TravelPics", "FoodPornDaily",
];

/// Words of the body of a tweet, per language.
pub(super) const WORDS_EN: &[&str] = &[
    "the", "a", "to", "and", "I", "you", "is", "it", "this", "that", "of", "in", "for", "on", "my",
    "me", "so", "just", "with", "be", "have", "not", "but", "we", "all", "what", "can", "love",
    "new", "now", "today", "good", "day", "night", "get", "like", "one", "time", "people", "really",
    "know", "want", "see", "think", "go", "going", "need", "never", "always", "best", "great",
    "happy", "lol", "omg", "wow", "thanks", "please", "follow", "win", "free", "check", "out",
    "video", "game", "music", "song", "album", "live", "tonight", "tomorrow", "weekend", "Sunday",
    "December", "Christmas", "holiday", "winter", "coffee", "work", "school", "home", "friends",
    "family", "team", "match", "goal", "vote", "news", "world", "life", "more", "still", "finally",
    "here", "there", "back", "again", "first", "last", "year", "2016", "gonna", "can't", "don't",
    "it's", "I'm", "you're", "\"best\"", "(finally)", "amazing", "beautiful", "crazy", "literally",
    "actually", "honestly", "tbh", "smh", "idk", "ikr", "giveaway", "retweet", "enter", "chance",
    "skin", "knife", "stream", "watch", "episode", "season", "trailer", "tickets", "tour",
    "concert", "show", "dance", "party", "birthday", "congrats", "proud", "sad", "tired", "hungry",
    "pizza", "cat", "dog", "rain", "snow", "cold", "hot", "&", "<3", "->", "100%", "$5", "#1",
    "C:\\Users", "50/50", "a\\b",
];

pub(super) const WORDS_ES: &[&str] = &[
    "el", "la", "de", "que", "y", "en", "un", "una", "por", "con", "para", "es", "no", "mi", "me",
    "te", "lo", "más", "hoy", "día", "noche", "amor", "vida", "gracias", "feliz", "jajaja", "sí",
    "qué", "cómo", "también", "mañana", "fútbol", "partido", "canción", "quiero", "tengo", "mejor",
    "nunca", "siempre", "años", "navidad", "¡vamos!", "¿quién?",
];

pub(super) const WORDS_PT: &[&str] = &[
    "o", "a", "de", "que", "e", "do", "da", "em", "um", "uma", "para", "com", "não", "é", "eu",
    "você", "mais", "hoje", "dia", "noite", "amor", "vida", "obrigado", "feliz", "kkkkk", "sim",
    "também", "amanhã", "futebol", "jogo", "música", "quero", "tenho", "melhor", "nunca", "sempre",
    "anos", "natal", "coração", "saudade",
];

pub(super) const WORDS_FR: &[&str] = &[
    "le", "la", "les", "de", "et", "un", "une", "est", "pas", "je", "tu", "il", "elle", "nous",
    "vous", "très", "aujourd'hui", "demain", "ce", "soir", "merci", "bonne", "journée", "amour",
    "vie", "c'est", "déjà", "été", "noël", "mdr", "ça", "où",
];

pub(super) const WORDS_JA: &[&str] = &[
    "今日", "明日", "ありがとう", "おはよう", "おやすみ", "かわいい", "すごい", "楽しい", "嬉しい", "好き", "最高", "ライブ", "新曲", "発売",
    "決定", "応援", "してね", "です", "ます", "！", "w", "笑", "東京", "大阪", "クリスマス", "ゲーム", "アニメ", "RT", "フォロー",
    "プレゼント",
];

pub(super) const EMOJI: &[&str] = &[
    "😂", "❤️", "😍", "🔥", "😭", "🙏", "👏", "💯", "🎉", "😊", "👀", "✨", "💜", "🤣", "😎", "🎄", "⚽", "🏀", "🎮",
    "🎶", "👍", "💪", "😱", "🙌", "👉", "🇧🇷", "🇯🇵", "👨‍👩‍👧", "🤔", "😴",
];

/// Hashtags in rough popularity order; drawn Zipf-like.
pub(super) const HASHTAGS: &[&str] = &[
    "NowPlaying", "BTS", "giveaway", "job", "Hiring", "MTVStars", "EMABiggestFans", "Christmas",
    "music", "love", "CSGO", "win", "NFL", "NBA", "PremierLeague", "LFC", "MUFC", "Arsenal",
    "RealMadrid", "FCBarcelona", "ElClásico", "Gamergate", "PS4", "Xbox", "Nintendo", "anime",
    "kpop", "EXO", "GOT7", "TWICE", "Brexit", "Trump", "Aleppo", "DAPL", "StandingRock", "Fidel",
    "CyberMonday", "GivingTuesday", "SNL", "TheVoice", "XFactor", "StrictlyComeDancing", "ImACeleb",
    "GBBO", "WalkingDead", "Westworld", "StrangerThings", "Pokemon", "PokemonGO", "SuperMarioRun",
    "Rogue1", "StarWars", "Moana", "FantasticBeasts", "LaLaLand", "Grammys", "AMAs", "VMAs",
    "Oscars", "travel", "photography", "food", "foodporn", "fitness", "motivation", "Monday",
    "SundayFunday", "tbt", "FF", "selfie", "instagood", "photooftheday", "fashion", "beauty", "art",
    "tech", "AI", "bitcoin", "startup", "marketing", "SEO", "news", "breaking", "weather", "snow",
    "earthquake", "東京", "拡散希望", "プレゼント企画", "RTした人全員フォローする", "SãoPaulo", "Fortaleza", "Flamengo",
    "Corinthians", "Palmeiras", "Chapecoense", "ForçaChape", "FuerzaChape", "México", "Colombia",
    "Argentina", "Boca", "River", "LaLiga", "Bundesliga", "SerieA", "Ligue1", "UCL", "EuropaLeague",
    "F1", "MotoGP", "UFC", "WWE", "boxing", "cricket", "INDvENG", "AUSvPAK", "NZvPAK", "bollywood",
    "Demonetisation", "Diwali", "GoT", "Sherlock", "DoctorWho", "BlackMirror", "TheCrown",
    "Gilmore", "OITNB", "Netflix", "YouTube", "Twitch", "streamer", "esports", "LoL", "Overwatch",
    "Dota2", "Fortnite", "Minecraft", "indiedev", "gamedev", "100DaysOfCode", "javascript",
    "rustlang", "python", "DataScience", "MachineLearning", "IoT", "VR", "AR", "blockchain",
    "crypto", "ethereum", "fintech", "health", "yoga", "vegan", "climate", "COP22", "science",
    "space", "NASA", "SpaceX", "Mars", "Juno",
];

pub(super) const DOMAINS: &[&str] = &[
    "youtube.com/watch?v=", "instagram.com/p/", "nytimes.com/2016/12/03/", "bbc.co.uk/news/",
    "theguardian.com/world/2016/dec/04/", "twitch.tv/", "spotify.com/track/", "facebook.com/",
    "csgoempire.com/r/", "amazon.com/dp/", "reddit.com/r/", "medium.com/@", "g1.globo.com/",
    "elpais.com/", "lemonde.fr/", "nhk.or.jp/news/", "bit.ly/", "goo.gl/", "ow.ly/", "ift.tt/",
];

pub(super) const SOURCES: &[(&str, u32)] = &[
    (
        "<a href=\"http://twitter.com/download/iphone\" rel=\"nofollow\">Twitter for iPhone</a>",
        40,
    ),
    (
        "<a href=\"http://twitter.com/download/android\" rel=\"nofollow\">Twitter for Android</a>",
        30,
    ),
    (
        "<a href=\"http://twitter.com\" rel=\"nofollow\">Twitter Web Client</a>",
        12,
    ),
    (
        "<a href=\"https://about.twitter.com/products/tweetdeck\" rel=\"nofollow\">TweetDeck</a>",
        4,
    ),
    ("<a href=\"http://ifttt.com\" rel=\"nofollow\">IFTTT</a>", 3),
    (
        "<a href=\"https://www.hootsuite.com\" rel=\"nofollow\">Hootsuite</a>",
        2,
    ),
    (
        "<a href=\"http://instagram.com\" rel=\"nofollow\">Instagram</a>",
        3,
    ),
    (
        "<a href=\"http://twitter.com/#!/download/ipad\" rel=\"nofollow\">Twitter for iPad</a>",
        3,
    ),
    (
        "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Mobile Web (M5)</a>",
        2,
    ),
    (
        "<a href=\"http://www.facebook.com/twitter\" rel=\"nofollow\">Facebook</a>",
        1,
    ),
];

pub(super) const TIME_ZONES: &[(&str, i32)] = &[
    ("Pacific Time (US & Canada)", -28800), ("Eastern Time (US & Canada)", -18000),
    ("Central Time (US & Canada)", -21600), ("London", 0), ("Tokyo", 32400), ("Brasilia", -7200),
    ("Madrid", 3600), ("Paris", 3600), ("Jakarta", 25200), ("Mumbai", 19800), ("Seoul", 32400),
    ("Buenos Aires", -10800), ("Mexico City", -21600), ("Atlantic Time (Canada)", -14400),
    ("Amsterdam", 3600), ("Istanbul", 10800), ("Riyadh", 10800), ("Sydney", 39600),
];

pub(super) const COLORS: &[&str] = &[
    "C0DEED", "000000", "1DA1F2", "F5F8FA", "E81C4F", "19CF86", "FFAD1F", "981CEB", "94D487",
    "ABB8C2", "3B94D9", "FA743E", "DD2E44", "89C9FA", "FFFFFF", "333333", "DDEEF6", "642D8B",
];

pub(super) const BACKGROUNDS: &[&str] = &[
    "http://abs.twimg.com/images/themes/theme1/bg.png",
    "http://abs.twimg.com/images/themes/theme14/bg.gif",
    "http://abs.twimg.com/images/themes/theme9/bg.gif",
    "http://pbs.twimg.com/profile_background_images/378800000162418519/sHhFKwKl.jpeg",
];

pub(super) const DESCRIPTION_BITS: &[&str] = &[
    "Official account", "Views are my own", "RT ≠ endorsement", "she/her", "he/him", "they/them",
    "Gamer", "Streamer", "Music lover", "Coffee addict ☕", "Dreamer", "Football ⚽", "Photographer",
    "Writer", "Student", "Mom of 2", "Dad", "Engineer", "Designer", "Artist 🎨", "Blogger",
    "Entrepreneur", "Follow for follow", "DM for collabs", "Business inquiries: hello@example.com",
    "IG: @someone", "Snapchat: someone", "God first 🙏", "Living my best life", "Be kind.",
    "Cat person 🐱", "Dog person 🐶", "Making the world a better place", "Opinions mine",
    "Tweets in English & Español", "日本語でつぶやきます", "Fã do Flamengo ❤️🖤",
    "\"Stay hungry, stay foolish\"", "Backslash \\ fan", "Line 1\nLine 2", "🏳️‍🌈",
    "#BlackLivesMatter", "Est. 2009", "Subscribe to my YouTube ↓", "Retired", "Nurse 👩‍⚕️",
    "Teacher 🍎",
];
