"""Write the CRM export fixtures of tests/pipeline/test_crm_exports.py.

Each file is shaped like that tool's own export (header names in the tool's order, its date
and number formats, encoding, delimiter, quoting, BOM, footer): see the comment above each
one and docs/moving-from-another-crm.md. The byte-level quirks (BOM, Windows-1252, CRLF,
";" and decimal commas) are why they are written by a script; the test checks that the
committed files are what this script writes.

    python tests/pipeline/crm/make_fixtures.py [DIRECTORY]
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZWJ = "\u200d"  # Twenty's formula guard

FILES: dict[str, tuple[dict, list[str], list[list[str]]]] = {}


def table(name: str, header: list[str], rows: list[list[str]], **how) -> None:
    """Register a fixture: its header, rows and how it is written."""
    for row in rows:
        assert len(row) == len(header), (name, row)
    FILES[name] = (how, header, rows)


# HubSpot contacts export (CRM → Contacts → Export, CSV): UTF-8 with a BOM, "YYYY-MM-DD HH:MM"
# dates, the owner's full name, additional addresses joined with ";". One contact has no
# address at all (rejected), one is "Unqualified" (the status beats the lifecycle stage).
table("hubspot-contacts.csv",
      ["Record ID", "First Name", "Last Name", "Email", "Additional email addresses",
       "Phone Number", "Company Name", "Contact owner", "Lifecycle Stage", "Lead Status",
       "Create Date", "Last Activity Date", "Marketing contact status"],
      [["1001", "Lucía", "Fernández", "lucia@andina.example", "lucia.fernandez@mail.example",
        "+34 600 111 222", "Andina Foods", "Ana Souza", "Sales Qualified Lead", "In Progress",
        "2024-01-15 09:30", "2024-03-01 10:00", "Marketing contact"],
       ["1002", "Mark", "O'Connell", "mark@harbor.example", "", "", "Harbor Logistics",
        "Jonas Weber", "Customer", "", "2023-11-02 16:05", "", "Non-marketing contact"],
       ["1003", "Mei", "Chen", "mei.chen@lotus.example",
        "mchen@lotus.example;mei@chen-family.example", "", "Lotus Design", "Priya Nair",
        "Opportunity", "Open Deal", "2024-02-20 11:45", "", "Marketing contact"],
       ["1004", "Sam", "Okoro", "", "", "+44 20 7946 0000", "Okoro & Co", "Ana Souza", "Lead",
        "New", "2024-03-02 08:00", "", "Non-marketing contact"],
       ["1005", "Greta", "Lind", "greta@nordvik.example", "", "", "Nordvik AB", "Jonas Weber",
        "Lead", "Unqualified", "2024-02-29 08:00", "", "Marketing contact"],
       ["1006", "Hugo", "Blanc", "hugo@atelier.example", "", "", "Atelier Blanc", "",
        "Subscriber", "", "2023-12-24 18:30", "", "Non-marketing contact"],
       ["1007", "Aiko", "Tanaka", "aiko@kumo.example", "", "", "Kumo KK", "Tomás Ortega",
        "Marketing Qualified Lead", "Attempted to Contact", "2024-03-05 14:22", "",
        "Marketing contact"]],
      bom=True)

# HubSpot deals export with the associated contact ("Name (address)") and company; one row
# per deal, amounts plain, multi-currency "Currency". Lucía has two deals: the open one in
# "Contract Sent" wins over the won pilot, which goes to the timeline.
table("hubspot-deals.csv",
      ["Record ID", "Deal Name", "Pipeline", "Deal Stage", "Amount", "Currency", "Close Date",
       "Deal owner", "Create Date", "Deal Type", "Associated Contact", "Associated Company"],
      [["9001", "Andina – Rollout", "Sales Pipeline", "Contract Sent", "12500", "EUR",
        "2024-04-30 00:00", "Ana Souza", "2024-01-10 09:00", "newbusiness",
        "Lucía Fernández (lucia@andina.example)", "Andina Foods"],
       ["9002", "Andina – Pilot", "Sales Pipeline", "Closed Won", "4800.5", "EUR",
        "2024-02-10 00:00", "Ana Souza", "2024-01-20 10:00", "newbusiness",
        "Lucía Fernández (lucia@andina.example)", "Andina Foods"],
       ["9003", "Harbor – Renewal", "Sales Pipeline", "Closed Lost", "3000", "USD",
        "2024-01-20 00:00", "Jonas Weber", "2023-11-05 16:00", "existingbusiness",
        "Mark O'Connell (mark@harbor.example)", "Harbor Logistics"],
       ["9004", "Nordvik – Starter", "Sales Pipeline", "Qualified To Buy", "950", "SEK",
        "2024-05-15 00:00", "Jonas Weber", "2024-03-01 12:00", "newbusiness",
        "Greta Lind (greta@nordvik.example)", "Nordvik AB"],
       ["9005", "Lotus – Brand kit", "Sales Pipeline", "Decision Maker Bought-In", "7200.75",
        "USD", "2024-04-01 00:00", "Priya Nair", "2024-02-21 09:15", "newbusiness",
        "Mei Chen (mei.chen@lotus.example)", "Lotus Design"],
       ["9006", "Kumo – Workshop", "Sales Pipeline", "Closed Won", "2100", "USD",
        "2024-03-28 00:00", "Tomás Ortega", "2024-03-06 08:30", "newbusiness",
        "Aiko Tanaka (aiko@kumo.example)", "Kumo KK"]],
      bom=True)

# Pipedrive people export (Contacts → People → Export filter results): "Person - <field>",
# an address per label; Bruno's work address is empty, his home one becomes his address.
table("pipedrive-people.csv",
      ["Person - ID", "Person - Name", "Person - First name", "Person - Last name",
       "Person - Label", "Person - Organization", "Person - Email - Work",
       "Person - Email - Home", "Person - Email - Other", "Person - Phone - Work",
       "Person - Owner", "Person - Person created", "Person - Update time",
       "Person - Open deals", "Person - Won deals", "Person - Lost deals",
       "Person - Visible to"],
      [["11", "Clara Jensen", "Clara", "Jensen", "Hot lead", "Fjord Analytics",
        "clara@fjord.example", "clara.jensen@home.example", "", "+45 33 12 34 56",
        "Ana Souza", "2024-02-14 10:20:30", "2024-03-01 09:00:00", "1", "0", "0",
        "Owner's visibility group"],
       ["12", "Bruno Costa", "Bruno", "Costa", "Warm lead", "Costa Vinhos", "",
        "bruno.costa@casa.example", "", "", "Jonas Weber", "2023-12-01 08:05:00",
        "2024-01-05 12:00:00", "0", "0", "0", "Owner's visibility group"],
       ["13", "Nadia Haddad", "Nadia", "Haddad", "Customer", "Cedar Trading",
        "nadia@cedar.example", "", "n.haddad@other.example", "", "Priya Nair",
        "2024-03-05 17:45:00", "2024-03-05 17:45:00", "0", "2", "0", "Entire company"],
       ["14", "Olaf Berg", "Olaf", "Berg", "Cold lead", "", "", "", "", "+47 22 00 00 00",
        "Jonas Weber", "2024-01-09 07:00:00", "2024-01-09 07:00:00", "0", "0", "0",
        "Entire company"],
       ["15", "Yara Mendes", "Yara", "Mendes", "", "Mendes Arquitetura",
        "yara@mendes.example", "", "", "", "Tomás Ortega", "2024-01-31 23:59:59",
        "2024-02-01 10:00:00", "0", "0", "1", "Entire company"]])

# Pipedrive deals export (Deals → Export filter results): status beats stage; Clara has two
# open deals (the one in "Proposal Made" wins), Bruno's only deal is won, Nadia's lost.
table("pipedrive-deals.csv",
      ["Deal - ID", "Deal - Title", "Deal - Creator", "Deal - Owner", "Deal - Value",
       "Deal - Currency", "Deal - Weighted value", "Deal - Probability", "Deal - Organization",
       "Deal - Pipeline", "Deal - Contact person", "Deal - Stage", "Deal - Label",
       "Deal - Status", "Deal - Deal created", "Deal - Update time",
       "Deal - Expected close date", "Deal - Won time", "Deal - Lost time",
       "Deal - Lost reason", "Person - Email - Work", "Person - Email - Home"],
      [["101", "Fjord Analytics deal", "Ana Souza", "Ana Souza", "18000", "EUR", "9000", "50",
        "Fjord Analytics", "Pipeline", "Clara Jensen", "Proposal Made", "Hot", "Open",
        "2024-02-15 09:00:00", "2024-03-01 09:00:00", "2024-04-30", "", "", "",
        "clara@fjord.example", "clara.jensen@home.example"],
       ["102", "Fjord – support add-on", "Ana Souza", "Ana Souza", "2400", "EUR", "240", "10",
        "Fjord Analytics", "Pipeline", "Clara Jensen", "Contact Made", "", "Open",
        "2024-02-20 11:00:00", "2024-02-20 11:00:00", "", "", "", "",
        "clara@fjord.example", "clara.jensen@home.example"],
       ["103", "Costa Vinhos deal", "Jonas Weber", "Jonas Weber", "5600.5", "EUR", "5600.5",
        "100", "Costa Vinhos", "Pipeline", "Bruno Costa", "Negotiations Started", "", "Won",
        "2023-12-02 10:00:00", "2024-01-10 15:30:00", "", "2024-01-10 15:30:00", "", "",
        "", "bruno.costa@casa.example"],
       ["104", "Cedar Trading deal", "Priya Nair", "Priya Nair", "9900", "USD", "0", "0",
        "Cedar Trading", "Pipeline", "Nadia Haddad", "Contact Made", "Cold", "Lost",
        "2024-03-06 08:00:00", "2024-03-20 16:00:00", "", "", "2024-03-20 16:00:00",
        "Went with a competitor", "nadia@cedar.example", ""],
       ["105", "Mendes Arquitetura deal", "Tomás Ortega", "Tomás Ortega", "3200", "BRL",
        "1600", "50", "Mendes Arquitetura", "Pipeline", "Yara Mendes", "Demo Scheduled", "",
        "Open", "2024-02-01 10:00:00", "2024-02-10 10:00:00", "", "", "", "",
        "yara@mendes.example", ""],
       ["106", "Berg deal", "Jonas Weber", "Jonas Weber", "700", "NOK", "70", "10", "",
        "Pipeline", "Olaf Berg", "Qualified", "", "Open", "2024-01-10 07:00:00",
        "2024-01-10 07:00:00", "", "", "", "", "", ""]])

# Salesforce leads report, Export → Details Only → CSV: every cell quoted, US dates, and
# the footer Salesforce appends after the rows.
table("salesforce-report.csv",
      ["Lead Owner", "First Name", "Last Name", "Title", "Company / Account", "Email", "Phone",
       "Lead Source", "Lead Status", "Rating", "Create Date"],
      [["Ana Souza", "Dmitri", "Volkov", "CTO", "Volga Systems", "dmitri@volga.example",
        "(415) 555-0101", "Web", "Working - Contacted", "Hot", "3/14/2024"],
       ["Jonas Weber", "Fatima", "Zahra", "COO", "Oasis Retail", "fatima@oasis.example", "",
        "Trade Show", "Open - Not Contacted", "Warm", "1/5/2024"],
       ["Priya Nair", "Kofi", "Mensah", "CEO", "Accra Mobile", "kofi@accramobile.example", "",
        "Partner Referral", "Closed - Converted", "Hot", "11/28/2023"],
       ["Jonas Weber", "Lena", "Schulz", "Buyer", "Schulz Bau", "lena@schulzbau.example", "",
        "Web", "Closed - Not Converted", "Cold", "2/29/2024"],
       ["Ana Souza", "Ravi", "Iyer", "Analyst", "Iyer Consulting", "", "(415) 555-0199",
        "Phone Inquiry", "Open - Not Contacted", "", "3/1/2024"]],
      quoting=csv.QUOTE_ALL,
      footer=['""', '""', '"Grand Totals (5 records)"', '""', '""',
              '"Confidential Information - Do Not Distribute"',
              '"Copyright (c) 2000-2024 salesforce.com, inc. All rights reserved."'])

# Salesforce Data Loader extract of Lead: API names in capitals, every cell quoted,
# ISO 8601 UTC dates with milliseconds, ids for owners plus OWNER.NAME from the query.
table("salesforce-dataloader.csv",
      ["ID", "FIRSTNAME", "LASTNAME", "EMAIL", "COMPANY", "STATUS", "LEADSOURCE", "OWNERID",
       "OWNER.NAME", "ISCONVERTED", "CREATEDDATE"],
      [["00Q5g00000AbCd1EAF", "Dmitri", "Volkov", "dmitri@volga.example", "Volga Systems",
        "Working - Contacted", "Web", "0055g00000XyZa1AAB", "Ana Souza", "false",
        "2024-03-14T16:05:09.000Z"],
       ["00Q5g00000AbCd2EAF", "Fatima", "Zahra", "fatima@oasis.example", "Oasis Retail",
        "Open - Not Contacted", "Trade Show", "0055g00000XyZa2AAB", "Jonas Weber", "false",
        "2024-01-05T08:30:00.000Z"],
       ["00Q5g00000AbCd3EAF", "Kofi", "Mensah", "kofi@accramobile.example", "Accra Mobile",
        "Closed - Converted", "Partner Referral", "0055g00000XyZa3AAB", "Priya Nair", "true",
        "2023-11-28T21:15:42.000Z"],
       ["00Q5g00000AbCd4EAF", "Lena", "Schulz", "lena@schulzbau.example", "Schulz Bau",
        "Closed - Not Converted", "Web", "0055g00000XyZa2AAB", "Jonas Weber", "false",
        "2024-02-29T12:00:00.000Z"],
       ["00Q5g00000AbCd5EAF", "Ravi", "Iyer", "", "Iyer Consulting", "Open - Not Contacted",
        "Phone Inquiry", "0055g00000XyZa1AAB", "Ana Souza", "false",
        "2024-03-01T09:00:00.000Z"]],
      quoting=csv.QUOTE_ALL)

# Zoho CRM leads export: "zcrm_" record ids, "YYYY-MM-DD HH:MM:SS", Secondary Email, tags
# joined with ",". Wei's Email is empty: her secondary address becomes her address.
ZOHO_LEADS = ["Record Id", "Lead Owner", "Company", "First Name", "Last Name", "Designation",
              "Email", "Phone", "Mobile", "Website", "Lead Source", "Lead Status", "Industry",
              "Annual Revenue", "Email Opt Out", "Created By", "Modified By", "Created Time",
              "Modified Time", "Salutation", "Secondary Email", "Last Activity Time", "Tag",
              "Description"]
table("zoho-leads.csv", ZOHO_LEADS,
      [["zcrm_5725767000000423001", "Ana Souza", "Sol Energia", "Marta", "Ruiz", "CFO",
        "marta@solenergia.example", "", "", "solenergia.example", "Web Download",
        "Contacted", "Energy", "2500000", "false", "Ana Souza", "Ana Souza",
        "2024-02-02 10:15:00", "2024-02-10 10:15:00", "Ms.", "marta.ruiz@personal.example",
        "2024-02-10 10:15:00", "webinar,energy", "Asked for the price list"],
       ["zcrm_5725767000000423002", "Jonas Weber", "Li Trading", "Wei", "Li", "Owner", "",
        "", "", "", "Trade Show", "Attempted to Contact", "Retail", "", "false",
        "Jonas Weber", "Jonas Weber", "2024-01-18 15:40:00", "2024-01-18 15:40:00", "Mrs.",
        "wei.li@home.example", "", "", ""],
       ["zcrm_5725767000000423003", "Priya Nair", "Peak Outdoor", "Tom", "Hill", "Buyer",
        "tom@peak.example", "", "", "", "Cold Call", "Junk Lead", "Retail", "", "true",
        "Priya Nair", "Priya Nair", "2023-10-30 09:00:00", "2023-11-02 09:00:00", "Mr.", "",
        "", "", ""],
       ["zcrm_5725767000000423004", "Tomás Ortega", "Andes Mining", "Carla", "Rojas", "COO",
        "carla@andes.example", "", "", "", "Partner", "Pre-Qualified", "Mining", "", "false",
        "Tomás Ortega", "Tomás Ortega", "2024-03-05 14:22:10", "2024-03-06 09:00:00", "Ms.",
        "", "", "vip", ""],
       ["zcrm_5725767000000423005", "Ana Souza", "Nowhere Ltd", "No", "Address", "", "", "",
        "", "", "Web Download", "Not Contacted", "", "", "false", "Ana Souza", "Ana Souza",
        "2024-03-01 08:00:00", "2024-03-01 08:00:00", "", "", "", "", ""]])

# Zoho CRM contacts export: no status; Account Name is the company.
table("zoho-contacts.csv",
      ["Record Id", "Contact Owner", "Lead Source", "First Name", "Last Name", "Account Name",
       "Email", "Title", "Department", "Phone", "Mobile", "Email Opt Out", "Created By",
       "Modified By", "Created Time", "Modified Time", "Salutation", "Secondary Email",
       "Last Activity Time", "Tag", "Description"],
      [["zcrm_5725767000000501001", "Ana Souza", "Web Download", "Marta", "Ruiz",
        "Sol Energia", "marta@solenergia.example", "CFO", "Finance", "", "", "false",
        "Ana Souza", "Ana Souza", "2024-02-12 11:00:00", "2024-02-12 11:00:00", "Ms.",
        "marta.ruiz@personal.example", "", "customer", ""],
       ["zcrm_5725767000000501002", "Jonas Weber", "Trade Show", "Wei", "Li", "Li Trading",
        "", "Owner", "", "", "", "false", "Jonas Weber", "Jonas Weber",
        "2024-01-25 16:00:00", "2024-01-25 16:00:00", "Mrs.", "wei.li@home.example", "", "",
        ""],
       ["zcrm_5725767000000501003", "Tomás Ortega", "Partner", "Carla", "Rojas",
        "Andes Mining", "carla@andes.example", "COO", "Operations", "", "", "false",
        "Tomás Ortega", "Tomás Ortega", "2024-03-15 09:30:00", "2024-03-15 09:30:00", "Ms.",
        "", "", "vip,mining", ""]])

# Close leads export (one row per lead): a lead is the company; date_created in Close's
# "original" format, microseconds and an offset; other addresses joined with ",".
table("close-leads.csv",
      ["id", "display_name", "url", "status_id", "status_label", "description",
       "date_created", "date_updated", "created_by", "created_by_name",
       "primary_contact_name", "primary_contact_title", "primary_contact_primary_phone",
       "primary_contact_primary_email", "primary_contact_other_emails", "custom.Lead Owner",
       "custom.Lead Source"],
      [["lead_8a7sd6f5g4h3j2k1", "Blue Harbor Studio", "https://blueharbor.example",
        "stat_1a", "Qualified", "Met at SaaStr", "2024-03-05 14:22:10.123456+01:00",
        "2024-03-10 09:00:00.000000+01:00", "user_1", "Ana Souza", "Elena Petrova", "Founder",
        "+1 415 555 0111", "elena@blueharbor.example", "elena.petrova@mail.example",
        "Ana Souza", "Event"],
       ["lead_2b3c4d5e6f7g8h9i", "Granite Works", "", "stat_2b", "Customer", "",
        "2023-09-12 08:00:00.000000+00:00", "2024-01-02 10:00:00.000000+00:00", "user_2",
        "Jonas Weber", "Owen Price", "Owner", "", "", "owen@graniteworks.example",
        "Jonas Weber", "Referral"],
       ["lead_3c4d5e6f7g8h9i0j", "Pixel Farm", "", "stat_3c", "Bad Fit", "Too small",
        "2024-02-01 17:30:00.500000-05:00", "2024-02-03 10:00:00.000000-05:00", "user_3",
        "Priya Nair", "Sara Kim", "CEO", "", "sara@pixelfarm.example", "", "Priya Nair", ""],
       ["lead_4d5e6f7g8h9i0j1k", "Quiet Leaf Tea", "", "stat_4d", "Potential", "",
        "2024-03-18 06:45:00.000000+09:00", "2024-03-18 06:45:00.000000+09:00", "user_4",
        "Tomás Ortega", "Ken Ito", "Buyer", "", "ken@quietleaf.example", "", "Tomás Ortega",
        "Web"]])

# Copper people export: emails by category, "Owned By", "Contact Type", US dates.
table("copper-people.csv",
      ["Name", "Prefix", "First Name", "Middle Name", "Last Name", "Suffix", "Title",
       "Company", "Contact Type", "Owned By", "Work Email", "Personal Email", "Other Email",
       "Work Phone", "Mobile Phone", "City", "State", "Country", "Tags", "Details",
       "Created At", "Updated At"],
      [["Grace Obi", "", "Grace", "", "Obi", "", "Director", "Lagos Fintech",
        "Potential Customer", "Ana Souza", "grace@lagosfintech.example",
        "grace.obi@mail.example", "", "+234 1 555 0100", "", "Lagos", "", "Nigeria",
        "fintech,referral", "Intro from Kofi", "3/14/2024", "3/20/2024"],
       ["Peter Novak", "Mr.", "Peter", "J.", "Novak", "", "CEO", "Novak Print",
        "Current Customer", "Jonas Weber", "", "peter.novak@home.example", "", "", "",
        "Prague", "", "Czechia", "", "", "10/2/2023", "1/15/2024"],
       ["Ines Duarte", "", "Ines", "", "Duarte", "", "Buyer", "Duarte Moda", "Former Customer",
        "Priya Nair", "ines@duartemoda.example", "", "ines@other.example", "", "", "Porto",
        "", "Portugal", "retail", "", "1/22/2024", "2/1/2024"],
       ["Felix Braun", "", "Felix", "", "Braun", "", "", "", "Uncategorized", "Tomás Ortega",
        "felix@braun.example", "", "", "", "", "", "", "", "", "", "2/13/2024",
        "2/13/2024"]])

# Odoo CRM pipeline (My Pipeline → Export, labels): Odoo guards = + - @ with "'"; one row per
# opportunity. Emma has two: the won one is the only closed, the open "Proposition" wins.
table("odoo-crm.csv",
      ["Opportunity", "Customer", "Contact Name", "Email", "Phone", "Salesperson",
       "Sales Team", "Stage", "Status", "Expected Revenue", "Currency", "Probability",
       "Created on", "Expected Closing", "Tags", "Lost Reason"],
      [["Schmidt Logistik: fleet", "Schmidt Logistik GmbH", "Emma Schmidt",
        "emma@schmidt-logistik.example", "'+49 30 1234567", "Ana Souza", "Sales",
        "Proposition", "Pending", "24000.00", "EUR", "70.0", "2024-02-01 09:00:00",
        "2024-04-30", "Product,Services", ""],
       ["Schmidt Logistik: trial", "Schmidt Logistik GmbH", "Emma Schmidt",
        "emma@schmidt-logistik.example", "'+49 30 1234567", "Ana Souza", "Sales", "Won",
        "Won", "1500.00", "EUR", "100.0", "2024-02-10 10:00:00", "2024-02-20", "Product", ""],
       ["@home Services: cleaning contract", "'@home Services", "Luca Bianchi",
        "luca@athome.example", "", "Jonas Weber", "Sales", "Qualified", "Pending", "8500.50",
        "EUR", "30.0", "2024-03-05 14:22:10", "", "Services", ""],
       ["Vega Foods: POS", "Vega Foods", "Sofia Vega", "sofia@vegafoods.example", "",
        "Priya Nair", "Sales", "New", "Lost", "12000.00", "USD", "0.0",
        "2023-12-12 12:12:12", "", "", "Too expensive"],
       ["Ortiz Bikes", "Ortiz Bikes", "Diego Ortiz", "diego@ortizbikes.example", "",
        "Tomás Ortega", "Sales", "New", "Pending", "0.00", "EUR", "10.0",
        "2024-03-20 08:00:00", "", "", ""]],
      quoting=csv.QUOTE_ALL)

# Twenty people (Export view): composite headers, ISO dates with milliseconds, additional
# emails as a JSON list, U+200D before a cell that starts with = + - @.
table("twenty-people.csv",
      ["Id", "Name / First Name", "Name / Last Name", "Emails / Primary Email",
       "Emails / Additional Emails", "Linkedin / Link URL", "Job Title",
       "Phones / Primary Phone Number", "City", "Company", "Creation date", "Last update",
       "Created by"],
      [["0d3b1f8e-1111-4c2b-9f00-000000000001", "Noah", "Fischer", "noah@alpenlabs.example",
        '["noah.fischer@mail.example"]', "linkedin.com/in/noahfischer", "CTO",
        ZWJ + "+41 44 555 01 01", "Zürich", "Alpen Labs", "2024-03-05T14:22:10.123Z",
        "2024-03-06T08:00:00.000Z", "Ana Souza"],
       ["0d3b1f8e-1111-4c2b-9f00-000000000002", "Amara", "Diallo", "",
        '["amara.diallo@home.example"]', "", "Founder", "", "Dakar", "Baobab Studio",
        "2024-01-17T09:05:00.000Z", "2024-01-17T09:05:00.000Z", "Jonas Weber"],
       ["0d3b1f8e-1111-4c2b-9f00-000000000003", "Ivo", "Petrov", "ivo@equals.example", "[]",
        "", ZWJ + "-", "", "Sofia", ZWJ + "=Equals Labs", "2023-12-31T23:59:59.999Z",
        "2024-01-02T10:00:00.000Z", "Priya Nair"]])

# Google Contacts → Export → Google CSV: labels joined with " ::: ", "* myContacts" dropped;
# Sven's first address is empty, his second becomes his address.
table("google-contacts.csv",
      ["First Name", "Middle Name", "Last Name", "Phonetic First Name", "Phonetic Middle Name",
       "Phonetic Last Name", "Name Prefix", "Name Suffix", "Nickname", "File As",
       "Organization Name", "Organization Title", "Organization Department", "Birthday",
       "Notes", "Photo", "Labels", "E-mail 1 - Label", "E-mail 1 - Value", "E-mail 2 - Label",
       "E-mail 2 - Value", "Phone 1 - Label", "Phone 1 - Value"],
      [["Julia", "", "Costa", "", "", "", "", "", "", "", "Rio Verde Café", "Owner", "", "",
        "Met at the fair", "", "* myContacts ::: Clients ::: Trade fair 2024", "* Work",
        "julia@rioverde.example", "Home", "julia.costa@mail.example", "Mobile",
        "+55 21 99999 0000"],
       ["Sven", "", "Karlsson", "", "", "", "", "", "", "", "Karlsson Snickeri", "", "", "",
        "", "", "* myContacts", "", "", "Home", "sven@karlsson-home.example", "", ""],
       ["Ada", "", "Nwosu", "", "", "", "Dr.", "", "", "", "", "", "", "1985-04-12", "", "",
        "* myContacts ::: * starred ::: Partners", "* Work", "ada@nwosu-clinic.example", "",
        "", "", ""]])

# Classic Outlook → Export → Comma Separated Values: the fixed header, every cell quoted,
# CRLF, Windows-1252 (José, Zoë, O’Brien), categories joined with ";".
OUTLOOK = ["Title", "First Name", "Middle Name", "Last Name", "Suffix", "Company",
           "Department", "Job Title", "Business Street", "Business Street 2",
           "Business Street 3", "Business City", "Business State", "Business Postal Code",
           "Business Country/Region", "Home Street", "Home Street 2", "Home Street 3",
           "Home City", "Home State", "Home Postal Code", "Home Country/Region",
           "Other Street", "Other Street 2", "Other Street 3", "Other City", "Other State",
           "Other Postal Code", "Other Country/Region", "Assistant's Phone", "Business Fax",
           "Business Phone", "Business Phone 2", "Callback", "Car Phone", "Company Main Phone",
           "Home Fax", "Home Phone", "Home Phone 2", "ISDN", "Mobile Phone", "Other Fax",
           "Other Phone", "Pager", "Primary Phone", "Radio Phone", "TTY/TDD Phone", "Telex",
           "Account", "Anniversary", "Assistant's Name", "Billing Information", "Birthday",
           "Business Address PO Box", "Categories", "Children", "Directory Server",
           "E-mail Address", "E-mail Type", "E-mail Display Name", "E-mail 2 Address",
           "E-mail 2 Type", "E-mail 2 Display Name", "E-mail 3 Address", "E-mail 3 Type",
           "E-mail 3 Display Name", "Gender", "Government ID Number", "Hobby",
           "Home Address PO Box", "Initials", "Internet Free Busy", "Keywords", "Language",
           "Location", "Manager's Name", "Mileage", "Notes", "Office Location",
           "Organizational ID Number", "Other Address PO Box", "Priority", "Private",
           "Profession", "Referred By", "Sensitivity", "Spouse", "User 1", "User 2", "User 3",
           "User 4", "Web Page"]


def outlook(**cells: str) -> list[str]:
    """An Outlook row: empty cells but the named ones (and Outlook's fixed defaults)."""
    row = dict.fromkeys(OUTLOOK, "")
    row.update({"Anniversary": "0/0/00", "Birthday": "0/0/00", "Gender": "Unspecified",
                "Priority": "Normal", "Private": "False", "Sensitivity": "Normal"})
    for key, value in cells.items():
        header = key.replace("_", " ").replace("Email", "E-mail")
        assert header in row, header
        row[header] = value
    return list(row.values())


table("outlook.csv", OUTLOOK,
      [outlook(First_Name="José", Last_Name="García", Company="Olivo Import",
               Email_Address="jose@olivo.example", Email_Type="SMTP",
               Email_Display_Name="José García (jose@olivo.example)",
               Email_2_Address="jose.garcia@correo.example", Email_2_Type="SMTP",
               Categories="Customers;Spain"),
       outlook(First_Name="Zoë", Last_Name="O’Brien", Company="Brontë Books",
               Email_2_Address="zoe.obrien@home.example", Email_2_Type="SMTP",
               Notes="Prefers calls after 3 pm"),
       outlook(First_Name="Étienne", Last_Name="Dubois", Company="Café Dubois",
               Email_Address="etienne@cafedubois.example", Email_Type="SMTP",
               Categories="Suppliers")],
      quoting=csv.QUOTE_ALL, encoding="cp1252", newline="\r\n")

# A Pipedrive deals export opened and saved again by Excel in a German locale: ";", decimal
# commas with "." thousands, "DD.MM.YYYY HH:MM", Windows-1252 (€, ’, –, ä ö ü ß), CRLF.
table("german-excel.csv",
      ["Deal - Title", "Deal - Owner", "Deal - Value", "Deal - Currency",
       "Deal - Organization", "Deal - Contact person", "Deal - Stage", "Deal - Status",
       "Deal - Deal created", "Deal - Won time", "Person - Email - Work"],
      [["Lizenz 2024 – Müller", "Jürgen Groß", "12.500,00", "EUR", "Müller & Söhne GmbH",
        "Renée D’Souza", "Proposal Made", "Open", "05.03.2024 14:22", "",
        "renee@mueller-soehne.example"],
       ["Wartung 980 € – Köhler", "Jürgen Groß", "980,50", "EUR", "Köhler Maschinenbau",
        "Björn Köhler", "Negotiations Started", "Won", "17.01.2024 09:05", "28.02.2024 16:40",
        "bjoern@koehler.example"],
       ["Schulung – Straßer", "Jürgen Groß", "1.250,00", "EUR", "Straßer Bäckerei",
        "Anna Straßer", "Contact Made", "Open", "29.02.2024 08:00", "",
        "anna@strasser.example"]],
      delimiter=";", encoding="cp1252", newline="\r\n")


def render(name: str) -> bytes:
    """The bytes of one fixture."""
    how, header, rows = FILES[name]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=how.get("delimiter", ","),
                        quoting=how.get("quoting", csv.QUOTE_MINIMAL),
                        lineterminator=how.get("newline", "\n"))
    writer.writerow(header)
    writer.writerows(rows)
    text = out.getvalue() + "".join(line + how.get("newline", "\n")
                                    for line in how.get("footer", []))
    data = text.encode(how.get("encoding", "utf-8"))
    return (b"\xef\xbb\xbf" if how.get("bom") else b"") + data


def main(directory: Path = HERE) -> None:
    """Write every fixture into ``directory``."""
    for name in FILES:
        (directory / name).write_bytes(render(name))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
