// jsforce 3's Bulk API 1.0 client (conn.bulk) against the emulator; prints one JSON object of results.
// Env: SF_URL (instance URL), SF_TOKEN (access token), TAG (a name unique to the run);
// NODE_EXTRA_CA_CERTS trusts the emulator CA.
const jsforce = require("jsforce");

async function main() {
  const conn = new jsforce.Connection({ instanceUrl: process.env.SF_URL, accessToken: process.env.SF_TOKEN,
                                        version: "62.0" });
  conn.bulk.pollInterval = 100;
  const tag = process.env.TAG;
  const inserted = await conn.bulk.load("Account", "insert",
    [{ Name: `jsforce bulk1 ${tag} 1`, Rating: "" }, { Name: `jsforce bulk1 ${tag} 2`, Rating: "Hot" },
     { Name: "", Rating: "Cold" }]);
  const updated = await conn.bulk.load("Account", "update", [{ Id: inserted[0].id, Rating: "Warm" }]);
  const upserted = await conn.bulk.load("Account", "upsert", { extIdField: "Mongo_Id__c" },
    [{ Mongo_Id__c: `m1${tag}`, Name: `jsforce bulk1 ${tag} 3` }]);
  const soql = `SELECT Name, Rating FROM Account WHERE Name LIKE 'jsforce bulk1 ${tag}%' ORDER BY Name`;
  const rows = await conn.query(soql);
  const bulkRows = await (await conn.bulk.query(soql)).toArray();
  console.log(JSON.stringify({
    inserted: inserted.map((r) => [r.success, r.created, r.errors]),
    updated: updated.map((r) => [r.id === inserted[0].id, r.success, r.created]),
    upserted: upserted.map((r) => [r.success, r.created]),
    rows: rows.records.map((r) => [r.Name, r.Rating]),
    bulkRows: bulkRows.map((r) => [r.Name, r.Rating]),
  }));
}

main().catch((err) => { console.error(err.stack || String(err)); process.exit(1); });
