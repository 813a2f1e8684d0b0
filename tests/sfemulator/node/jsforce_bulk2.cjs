// jsforce 3's Bulk API 2.0 client against the emulator; prints one JSON object of results.
// Env: SF_URL (instance URL), SF_TOKEN (access token), TAG (a name unique to the run);
// NODE_EXTRA_CA_CERTS trusts the emulator CA.
const jsforce = require("jsforce");

async function main() {
  const conn = new jsforce.Connection({ instanceUrl: process.env.SF_URL, accessToken: process.env.SF_TOKEN,
                                        version: "62.0" });
  conn.bulk2.pollInterval = 100;
  const tag = process.env.TAG;
  const loaded = await conn.bulk2.loadAndWaitForResults({
    object: "Account", operation: "insert",
    input: [{ Name: `jsforce bulk ${tag} 1`, Rating: "Hot" }, { Name: `jsforce bulk ${tag} 2` }, { Rating: "Cold" }],
  });
  const soql = `SELECT Id, Name, Rating, Owner.Name FROM Account WHERE Name LIKE 'jsforce bulk ${tag}%' ORDER BY Name`;
  const rows = await (await conn.bulk2.query(soql)).toArray();
  console.log(JSON.stringify({
    successful: loaded.successfulResults.map((r) => [r.sf__Id, r.sf__Created, r.Name]),
    failed: loaded.failedResults.map((r) => r.sf__Error),
    unprocessed: loaded.unprocessedRecords.length,
    query: rows.map((r) => [r.Id, r.Name, r.Rating, r["Owner.Name"]]),
  }));
}

main().catch((err) => { console.error(err.stack || String(err)); process.exit(1); });
