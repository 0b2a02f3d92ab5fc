"""The demo's word lists and scenarios: names, places, brands, and the conversations the
generator (kommunikation.demo.generator) draws from. Data only, no code.

The generator draws from these lists with one seeded ``random.Random``: changing an
entry changes the data a given seed produces.
"""

from __future__ import annotations

# --- the brands (seed 002: ChargeCars V2 communication workflow) ------------------------

BRANDS = [
    {
        "slug": "chargecars",
        "name": "ChargeCars",
        "legal_name": "ChargeCars B.V.",
        "domains": ["chargecars.nl"],
        "support_email": "support@chargecars.nl",
        "sales_email": "verkoop@chargecars.nl",
        "admin_email": "admin@chargecars.nl",
        "noreply_email": "noreply@chargecars.nl",
        "whatsapp_number": "+31612345678",
        "sms_sender_id": "ChargeCars",
        "primary_color": "#0b6e4f",
        "weight": 30,
    },
    {
        "slug": "laderthuis",
        "name": "LaderThuis.nl",
        "legal_name": "LaderThuis.nl",
        "domains": ["laderthuis.nl"],
        "support_email": "support@laderthuis.nl",
        "sales_email": "info@laderthuis.nl",
        "admin_email": "admin@laderthuis.nl",
        "noreply_email": "noreply@laderthuis.nl",
        "whatsapp_number": "+31612345679",
        "sms_sender_id": "LaderThuis",
        "primary_color": "#e06c00",
        "weight": 25,
    },
    {
        "slug": "meterkastthuis",
        "name": "MeterKastThuis.nl",
        "legal_name": "MeterKastThuis.nl",
        "domains": ["meterkastthuis.nl"],
        "support_email": "support@meterkastthuis.nl",
        "sales_email": "info@meterkastthuis.nl",
        "admin_email": "admin@meterkastthuis.nl",
        "noreply_email": "noreply@meterkastthuis.nl",
        "whatsapp_number": "",
        "sms_sender_id": "MeterKast",
        "primary_color": "#3b4cca",
        "weight": 15,
    },
    {
        "slug": "zaptecshop",
        "name": "ZaptecShop.nl",
        "legal_name": "ZaptecShop.nl",
        "domains": ["zaptecshop.nl"],
        "support_email": "support@zaptecshop.nl",
        "sales_email": "bestellen@zaptecshop.nl",
        "admin_email": "admin@zaptecshop.nl",
        "noreply_email": "noreply@zaptecshop.nl",
        "whatsapp_number": "+31612345680",
        "sms_sender_id": "ZaptecShop",
        "primary_color": "#c8102e",
        "weight": 20,
    },
    {
        "slug": "ratioshop",
        "name": "RatioShop.nl",
        "legal_name": "RatioShop.nl",
        "domains": ["ratioshop.nl"],
        "support_email": "support@ratioshop.nl",
        "sales_email": "verkoop@ratioshop.nl",
        "admin_email": "admin@ratioshop.nl",
        "noreply_email": "noreply@ratioshop.nl",
        "whatsapp_number": "",
        "sms_sender_id": "RatioShop",
        "primary_color": "#5a2d82",
        "weight": 10,
    },
]

# --- names, places ------------------------------------------------------------------------

FEMALE = [
    "Anna", "Maria", "Julia", "Laura", "Lea", "Sarah", "Lena", "Katharina", "Sophie", "Lisa",
    "Hannah", "Johanna", "Claudia", "Sabine", "Petra", "Andrea", "Stefanie", "Nicole",
    "Susanne", "Birgit", "Monika", "Ursula", "Renate", "Ingrid", "Karin", "Gabriele", "Heike",
    "Christina", "Jana", "Jessica", "Melanie", "Sandra", "Kerstin", "Tanja", "Daniela", "Anja",
    "Silke", "Franziska", "Charlotte", "Emilia", "Mia", "Marie", "Jördis", "Bärbel"
]  # fmt: skip
MALE = [
    "Thomas", "Michael", "Andreas", "Stefan", "Christian", "Markus", "Frank", "Jürgen", "Peter",
    "Klaus", "Wolfgang", "Uwe", "Martin", "Jan", "Tobias", "Alexander", "Sebastian", "Daniel",
    "Matthias", "Florian", "Lukas", "Jonas", "Felix", "Maximilian", "Tim", "Philipp", "Dirk",
    "Holger", "Rainer", "Bernd", "Torsten", "Sven", "Jörg", "Günter", "Horst", "Dieter",
    "Björn", "Sören", "Hans-Peter", "Karl-Heinz", "Ömer", "Niklas"
]  # fmt: skip
LAST = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
    "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler",
    "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang",
    "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich", "Keller",
    "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke",
    "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Martin",
    "Schumacher", "Krämer", "Vogt", "Stein", "Jäger", "Otto", "Sommer", "Groß", "Seidel",
    "Heinrich", "Brandt", "Haas", "Schreiber", "Graf", "Schulte", "Dietrich", "Ziegler", "Kuhn",
    "Kühn", "Pohl", "Engel", "Horn", "Busch", "Bergmann", "Thomas", "Voigt", "Sauer", "Arnold",
    "Wolff", "Pfeiffer", "Gärtner", "Büttner", "Yılmaz", "Kowalski", "Nowak", "Öztürk",
    "Dąbrowski"
]  # fmt: skip
CITIES = [  # (PLZ, Ort, Vorwahl)
    ("10115", "Berlin", "30"), ("10245", "Berlin", "30"), ("20095", "Hamburg", "40"),
    ("22767", "Hamburg", "40"), ("80331", "München", "89"), ("81675", "München", "89"),
    ("50667", "Köln", "221"), ("60311", "Frankfurt am Main", "69"), ("70173", "Stuttgart", "711"),
    ("40213", "Düsseldorf", "211"), ("44135", "Dortmund", "231"), ("45127", "Essen", "201"),
    ("04109", "Leipzig", "341"), ("28195", "Bremen", "421"), ("01067", "Dresden", "351"),
    ("30159", "Hannover", "511"), ("90402", "Nürnberg", "911"), ("47051", "Duisburg", "203"),
    ("44787", "Bochum", "234"), ("42103", "Wuppertal", "202"), ("33602", "Bielefeld", "521"),
    ("53111", "Bonn", "228"), ("48143", "Münster", "251"), ("76133", "Karlsruhe", "721"),
    ("68159", "Mannheim", "621"), ("86150", "Augsburg", "821"), ("65183", "Wiesbaden", "611"),
    ("41061", "Mönchengladbach", "2161"), ("38100", "Braunschweig", "531"),
    ("24103", "Kiel", "431"), ("52062", "Aachen", "241"), ("06108", "Halle (Saale)", "345"),
    ("39104", "Magdeburg", "391"), ("79098", "Freiburg im Breisgau", "761"),
    ("47798", "Krefeld", "2151"), ("55116", "Mainz", "6131"), ("23552", "Lübeck", "451"),
    ("99084", "Erfurt", "361"), ("18055", "Rostock", "381"), ("34117", "Kassel", "561"),
    ("49074", "Osnabrück", "541"), ("26122", "Oldenburg", "441"), ("46045", "Oberhausen", "208"),
    ("93047", "Regensburg", "941"), ("97070", "Würzburg", "931"), ("89073", "Ulm", "731"),
    ("48431", "Rheine", "5971"), ("47533", "Kleve", "2821"), ("46395", "Bocholt", "2871"),
    ("41460", "Neuss", "2131"),
]  # fmt: skip
STREETS = [
    "Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße",
    "Birkenweg", "Lindenstraße", "Kirchstraße", "Waldstraße", "Ringstraße", "Schillerstraße",
    "Goethestraße", "Mühlenweg", "Am Sportplatz", "Jahnstraße", "Amselweg", "Friedhofstraße",
    "Rosenstraße", "Wiesenweg", "Buchenweg", "Lessingstraße", "Mozartstraße", "Feldstraße",
    "Eichendorffstraße", "Kastanienallee", "Am Mühlbach", "Königsallee", "Schloßstraße",
    "Heinrich-Heine-Straße", "Poststraße", "Marktplatz", "Fröbelstraße", "Grüner Weg",
    "Talstraße", "Industriestraße", "Gewerbering", "Im Wiesengrund", "Zur Alten Ziegelei"
]  # fmt: skip
MAIL_PROVIDERS = ["gmx.de", "web.de", "t-online.de", "gmail.com", "gmx.net", "outlook.de",
                  "posteo.de", "freenet.de", "icloud.com", "mail.de"]  # fmt: skip
SEGMENTS = ["Privatkunde", "Privatkunde", "Privatkunde", "Gewerbe", "Hausverwaltung", "Flotte"]

COMPANY_PATTERNS = [
    "Elektro {last} GmbH",
    "Hausverwaltung {last} & Söhne KG",
    "Autohaus {last} GmbH & Co. KG",
    "{last} Haustechnik GmbH",
    "Bäckerei {last} e.K.",
    "Zahnarztpraxis Dr. {last}",
    "Wohnungsbaugenossenschaft {city} eG",
    "{last} & {last2} Steuerberatung PartG mbB",
    "Gasthof Zur Linde, Inh. {first} {last}",
    "Spedition {last} GmbH",
    "{last} Immobilien GmbH",
    "Solartechnik {last} GmbH",
    "Tischlerei {last} GmbH",
    "Pflegedienst {last} gGmbH",
    "Stadtwerke {city} GmbH",
]
SUPPLIER_PATTERNS = [
    ("{last} Elektrogroßhandel GmbH", "Großhandel"),
    ("Kabel & Leitungen {city} GmbH", "Material"),
    ("Zählertechnik {last} GmbH", "Messtechnik"),
    ("{last} Logistik GmbH & Co. KG", "Logistik"),
    ("Wallbox-Distribution {last} GmbH", "Hardware"),
    ("{last} Montageservice GmbH", "Montage"),
    ("Druckerei {last} KG", "Drucksachen"),
    ("IT-Service {last} GmbH", "IT"),
]
NEWSLETTERS = [  # (name, address, list-id)
    ("Elektropraxis Newsletter", "newsletter@elektropraxis-news.de", "elektropraxis-news.de"),
    ("E-Mobilität Aktuell", "redaktion@emobilitaet-aktuell.de", "emobilitaet-aktuell.de"),
    ("Großhandel Nord Angebote", "angebote@grosshandel-nord.de", "grosshandel-nord.de"),
    ("Handwerkskammer Info", "info@hwk-newsletter.de", "hwk-newsletter.de"),
    ("Solar & Speicher Magazin", "news@solarspeicher-magazin.de", "solarspeicher-magazin.de"),
]
COLD_SENDERS = [
    ("Kevin Brauer | TopRank Online-Marketing", "k.brauer@toprank-online.de"),
    ("Branchenbuch Deutschland", "eintrag@branchenbuch-deutschland24.de"),
    ("Lisa Hartwig – LeadBoost GmbH", "lisa.hartwig@leadboost.de"),
    ("Personalvermittlung Schneller & Partner", "kontakt@schneller-partner-personal.de"),
    ("Leasing-Angebote Firmenwagen", "angebot@firmenwagen-leasing-direkt.de"),
]
PRODUCTS = ["Zaptec Go 11 kW", "Zaptec Pro", "Easee Charge Lite", "ABL eMH1", "Alfen Eve Single",
            "Heidelberg Energy Control", "Wallbox Pulsar Plus", "go-e Charger Gemini"]  # fmt: skip
CARS = ["VW ID.4", "Tesla Model Y", "Škoda Enyaq", "Hyundai Ioniq 5", "BMW iX1", "Renault Mégane E-Tech",
        "Kia EV6", "Audi Q4 e-tron", "Mercedes EQA", "Fiat 500e"]  # fmt: skip

# --- texts per classification -------------------------------------------------------------
# Placeholders: {order} {invoice} {quote} {date} {time} {product} {car} {city} {brand}
# {amount} {kw} {first} {last} {year}. "att" names an attachment: (direction, filename, title).

CUSTOMER_SCENARIOS = [
    {
        "subject": "Anfrage Wallbox-Installation in {city}",
        "open": "wir haben uns einen {car} bestellt und möchten zu Hause eine Wallbox installieren lassen. "
        "Die Garage ist etwa 12 Meter vom Zählerschrank entfernt. Können Sie uns ein Angebot für eine "
        "{product} inklusive Installation machen? Wie lange ist aktuell die Wartezeit?",
        "reply": [
            "vielen Dank für Ihre Anfrage. Gern erstellen wir Ihnen ein Angebot. Damit wir die Installation "
            "richtig einschätzen können, schicken Sie uns bitte ein Foto Ihres Zählerschranks und der Garage. "
            "Die Wartezeit für einen Installationstermin beträgt derzeit etwa drei Wochen.",
            "anbei erhalten Sie unser Angebot {quote} über {amount} inklusive Montage und Inbetriebnahme. "
            "Das Angebot ist 30 Tage gültig.",
        ],
        "follow": [
            "danke für die schnelle Rückmeldung. Die Fotos vom Zählerschrank hänge ich an. "
            "Im Zählerschrank ist noch Platz für einen weiteren Sicherungsautomaten.",
            "das Angebot passt für uns. Wie geht es jetzt weiter, brauchen Sie noch eine Anzahlung?",
        ],
        "note": [
            "Zählerschrank sieht alt aus, evtl. Zählerschrankerneuerung nötig. Bitte vor Termin mit Technik klären.",
            "Kunde hat telefonisch nachgefragt, Angebot kommt heute noch raus.",
        ],
        "att": ("out", "Angebot_{quote}.pdf", "Angebot {quote}"),
        "priority": "normal",
    },
    {
        "subject": "Terminverschiebung Installation am {date}",
        "open": "leider muss ich den Installationstermin am {date} um {time} Uhr absagen, ich bin an "
        "dem Tag beruflich unterwegs. Wäre ein Termin in der Woche danach möglich? Am liebsten vormittags.",
        "reply": [
            "kein Problem, wir haben den Termin storniert. Wir können Ihnen alternativ den Dienstag oder "
            "Donnerstag der Folgewoche ab 8:00 Uhr anbieten. Welcher Tag passt Ihnen besser?",
            "wir haben Ihren neuen Termin eingetragen. Unser Monteur meldet sich am Vortag telefonisch.",
        ],
        "follow": ["Donnerstag passt super, vielen Dank!", "Prima, dann bis Donnerstag."],
        "note": ["Termin in der Tourenplanung umgebucht (KW {kw}).", "Monteur informiert."],
        "att": None,
        "priority": "normal",
    },
    {
        "subject": "Frage zur Rechnung {invoice}",
        "open": "in der Rechnung {invoice} wird eine Anfahrtspauschale berechnet, die im Angebot nicht "
        "enthalten war. Können Sie das bitte prüfen und mir eine korrigierte Rechnung schicken?",
        "reply": [
            "Sie haben recht, die Anfahrtspauschale war im Angebot bereits enthalten. Wir haben die Rechnung "
            "korrigiert; die neue Rechnung finden Sie im Anhang.",
            "wir prüfen das mit unserer Buchhaltung und melden uns spätestens morgen bei Ihnen.",
        ],
        "follow": [
            "Vielen Dank, dann überweise ich den Betrag diese Woche.",
            "Gibt es schon etwas Neues zu meiner Rechnung?",
        ],  # fmt: skip
        "note": [
            "Gutschrift in sevDesk angelegt, korrigierte Rechnung verschickt.",
            "@Buchhaltung: bitte Anfahrtspauschale prüfen, Angebot lag bei {amount}.",
        ],  # fmt: skip
        "att": ("out", "Rechnung_{invoice}.pdf", "Rechnung {invoice} (korrigiert)"),
        "priority": "normal",
    },
    {
        "subject": "Reklamation: {product} lädt nicht mehr",
        "open": "seit gestern lädt unsere {product} nicht mehr. Die LED blinkt rot und das Auto meldet "
        "einen Ladefehler. Ein Neustart über die Sicherung hat nichts gebracht. Die Wallbox wurde erst vor "
        "drei Monaten von Ihnen installiert (Auftrag {order}). Bitte melden Sie sich dringend.",
        "reply": [
            "das tut uns leid. Können Sie uns bitte ein Foto der LED-Anzeige und die Seriennummer vom "
            "Typenschild schicken? Dann prüfen wir, ob wir das per Fernwartung lösen können.",
            "wir haben ein Firmware-Update aufgespielt und die Wallbox neu gestartet. Können Sie bitte "
            "prüfen, ob das Laden jetzt wieder funktioniert?",
        ],
        "follow": [
            "Hier die Fotos und die Seriennummer. Die LED blinkt weiterhin rot.",
            "Jetzt funktioniert es wieder, vielen Dank für die schnelle Hilfe!",
        ],  # fmt: skip
        "note": [
            "Fehlercode E42 – Fehlerstromschutz. Monteur muss vor Ort, Garantiefall.",
            "Mit Hersteller-Support telefoniert, Tauschgerät ist bestellt.",
        ],  # fmt: skip
        "att": ("in", "Kaufbeleg_{order}.pdf", "Kaufbeleg Auftrag {order}"),
        "priority": "high",
    },
    {
        "subject": "Wo bleibt meine Bestellung {order}?",
        "open": "ich habe vor zwei Wochen eine {product} bestellt (Bestellnummer {order}), habe aber noch "
        "keine Versandbestätigung bekommen. Können Sie mir sagen, wann die Lieferung kommt?",
        "reply": [
            "Ihre Bestellung {order} wurde heute an DHL übergeben. Die Sendungsnummer erhalten Sie in einer "
            "separaten E-Mail. Die Zustellung erfolgt voraussichtlich in zwei Werktagen.",
            "der Hersteller hat leider Lieferverzug. Wir rechnen mit dem Wareneingang in KW {kw}.",
        ],
        "follow": [
            "Danke für die Info!",
            "Das ist ärgerlich. Kann ich die Bestellung noch stornieren?",
        ],
        "note": ["Lieferverzug beim Großhändler, Ware kommt KW {kw}."],
        "att": None,
        "priority": "normal",
    },
    {
        "subject": "Förderung und Anmeldung beim Netzbetreiber",
        "open": "übernehmen Sie auch die Anmeldung der Wallbox beim Netzbetreiber? Und gibt es aktuell "
        "noch eine Förderung für private Ladepunkte in {city}?",
        "reply": [
            "ja, die Anmeldung beim Netzbetreiber übernehmen wir für Sie, das ist im Installationspreis "
            "enthalten. Eine Bundesförderung gibt es derzeit nicht, manche Kommunen fördern aber noch.",
        ],
        "follow": ["Super, dann hätte ich gern ein Angebot."],
        "note": ["Netzbetreiber-Formular vorbereitet."],
        "att": None,
        "priority": "low",
    },
]

SUPPLIER_SCENARIOS = [
    {
        "subject": "Lieferavis zu Ihrer Bestellung {order}",
        "open": "Ihre Bestellung {order} ({product}, 12 Stück) wurde heute versandt und wird voraussichtlich "
        "am {date} zwischen 8 und 12 Uhr angeliefert. Bitte sorgen Sie für eine Annahme vor Ort.",
        "reply": ["vielen Dank, die Annahme ist organisiert."],
        "follow": ["Die Lieferung verschiebt sich leider um einen Tag."],
        "note": ["Lager informiert, Anlieferung Tor 2."],
        "att": ("in", "Lieferschein_{order}.pdf", "Lieferschein {order}"),
        "priority": "normal",
    },
    {
        "subject": "Rechnung {invoice}",
        "open": "anbei erhalten Sie unsere Rechnung {invoice} über {amount}. Zahlbar innerhalb von 14 Tagen "
        "ohne Abzug. Bei Zahlung innerhalb von 7 Tagen gewähren wir 2 % Skonto.",
        "reply": ["die Position 3 wurde doppelt berechnet. Bitte senden Sie uns eine Gutschrift."],
        "follow": ["Sie haben recht, die Gutschrift ist unterwegs."],
        "note": ["An Buchhaltung weitergeleitet, Skontofrist {date}."],
        "att": ("in", "Rechnung_{invoice}.pdf", "Rechnung {invoice}"),
        "priority": "normal",
    },
    {
        "subject": "Neue Preisliste {year} – gültig ab {date}",
        "open": "zum {date} passen wir unsere Preise an. Die neue Preisliste finden Sie im Anhang. "
        "Bestellungen, die bis zum Stichtag eingehen, berechnen wir noch zu den alten Konditionen.",
        "reply": ["danke für die Info. Gilt unser Projektrabatt weiterhin?"],
        "follow": ["Ja, der Projektrabatt von 8 % bleibt bestehen."],
        "note": ["Preise im Angebotstool bis Monatsende aktualisieren."],
        "att": ("in", "Preisliste_{year}.pdf", "Preisliste {year}"),
        "priority": "low",
    },
    {
        "subject": "Auftragsbestätigung {order}",
        "open": "wir bestätigen Ihren Auftrag {order} über {amount}. Liefertermin: KW {kw}.",
        "reply": ["bitte liefern Sie direkt an die Baustelle in {city}."],
        "follow": ["Lieferadresse ist geändert."],
        "note": ["Auftrag in der Warenwirtschaft angelegt."],
        "att": None,
        "priority": "normal",
    },
]

INTERNAL_SCENARIOS = [
    ("Urlaubsvertretung KW {kw}", "ich bin in KW {kw} im Urlaub. Kannst du in der Zeit meine offenen "
     "Vorgänge im Support übernehmen? Die Übergabe-Liste lege ich dir in den Teams-Ordner."),
    ("Monteurplanung nächste Woche", "für nächste Woche sind 14 Installationen geplant, zwei davon in "
     "{city}. Bitte prüft, ob alle Kunden ihre Fotos vom Zählerschrank geschickt haben."),
    ("Protokoll Teammeeting {date}", "anbei die Stichpunkte aus dem Teammeeting: neue Textbausteine für "
     "Terminbestätigungen, Rückstau bei Reklamationen abbauen, Schulung {product} am Freitag."),
    ("Lagerbestand {product} niedrig", "wir haben nur noch 4 Stück {product} auf Lager. Sollen wir "
     "nachbestellen oder auf die neue Lieferung in KW {kw} warten?"),
]  # fmt: skip

NEWSLETTER_SUBJECTS = [
    "Neu im Sortiment: {product} jetzt lieferbar",
    "Ihr Wochenüberblick E-Mobilität – KW {kw}",
    "Nur bis Freitag: 15 % auf Installationsmaterial",
    "Einladung zum Webinar: Lastmanagement in Mehrfamilienhäusern",
    "Neue Normen für Ladeinfrastruktur {year} – das müssen Sie wissen",
]
COLD_SUBJECTS = [
    "Mehr Anfragen für {brand} – kostenloses Erstgespräch?",
    "Ihr Eintrag im Branchenbuch läuft ab",
    "SEO-Analyse für {domain}: 23 Fehler gefunden",
    "Fachkräfte für Ihr Unternehmen – Elektroniker ab sofort verfügbar",
    "Firmenwagen-Leasing ab 199 € netto",
]
COLD_BODIES = [
    "ich bin auf Ihr Unternehmen aufmerksam geworden und habe gesehen, dass Ihre Website bei Google "
    "kaum gefunden wird. Wir helfen Handwerksbetrieben, jeden Monat 30 % mehr Anfragen zu bekommen. "
    "Haben Sie diese Woche 15 Minuten für ein unverbindliches Gespräch?",
    "Ihr Firmeneintrag im Branchenbuch Deutschland muss verlängert werden. Bitte bestätigen Sie die "
    "Daten bis zum {date}, sonst wird Ihr Eintrag deaktiviert.",
]
WHATSAPP_IN = [
    "Hallo, kommt der Monteur heute noch? 🙂",
    "Guten Morgen! Ist die Wallbox schon verschickt?",
    "Die App zeigt „Ladevorgang unterbrochen“ an, was kann ich tun?",
    "Danke, hat geklappt 👍",
    "Können wir den Termin auf nächste Woche schieben?",
    "Hier das Foto vom Zählerschrank",
    "Wie lange dauert die Installation ungefähr?",
    "Ok, bis morgen",
    "Muss ich zu Hause sein oder reicht es, wenn die Garage offen ist?",
]
WHATSAPP_OUT = [
    "Hallo {first}, der Monteur ist gegen 14 Uhr bei Ihnen.",
    "Guten Morgen! Ja, die Sendung ist unterwegs, Sie sollten heute noch eine Mail von DHL bekommen.",
    "Bitte einmal die Sicherung für 30 Sekunden ausschalten und wieder einschalten.",
    "Gern geschehen! Schönen Tag noch.",
    "Klar, wir melden uns gleich mit einem neuen Termin.",
    "Die Installation dauert in der Regel 3 bis 4 Stunden.",
    "Es reicht, wenn die Garage und der Zählerschrank zugänglich sind.",
]
# SMS threads (issue 11 §2): our notice first (from the brand's sender id), then the
# customer's answers; the last word is the customer's, so the thread waits for an answer
SMS_OUT = [
    "{brand}: Ihr Monteur kommt am {date} zwischen 8 und 12 Uhr. Passt das? Einfach antworten.",
    "{brand}: Ihre Bestellung {order} ist unterwegs und kommt voraussichtlich am {date}.",
    "{brand}: Erinnerung an Ihren Termin am {date} um {time} Uhr. Bei Fragen antworten Sie hier.",
    "{brand}: Zur Rechnung {invoice} fehlt noch die Zahlung von {amount}. Fragen? Antworten Sie.",
]
SMS_IN = [
    "Passt, bis dann!",
    "Geht auch nachmittags? Vormittags bin ich arbeiten.",
    "Bitte vorher kurz anrufen, die Klingel geht nicht.",
    "Habe heute überwiesen.",
    "Können wir auf nächste Woche verschieben?",
    "Danke für die Info",
    "Wer ist da?",
]
SMS_OUT_ANSWERS = [
    "Gern, wir haben es notiert. Viele Grüße",
    "Kein Problem, wir melden uns mit einem neuen Termin.",
]
UNCLASSIFIED_SUBJECTS = [
    "Anfrage",
    "Wallbox",
    "Rückruf erbeten",
    "Frage zu Ihrem Angebot",
    "Kontaktformular: Nachricht von {first} {last}",
    "Installation Mehrfamilienhaus",
    "Kooperationsanfrage",
    "AW: Ihre Anfrage",
]
UNCLASSIFIED_BODIES = [
    "Guten Tag, bitte rufen Sie mich zurück wegen einer Wallbox für unser Mehrfamilienhaus in {city}.",
    "Hallo, ich habe eine Frage zu Ihrem Angebot. Ist die Anfahrt im Preis enthalten?",
    "Sehr geehrte Damen und Herren, wir sind ein Installationsbetrieb aus {city} und suchen "
    "Partner für die Montage von Ladestationen. Besteht Interesse an einer Zusammenarbeit?",
    "Hallo, meine Nachbarin hat bei Ihnen eine {product} gekauft. Was kostet das bei mir?",
]

# the chance that a scenario with a document actually carries it (about 9 % of all conversations)
ATTACHMENT_CHANCE = 0.32
