// Drives the emulator with jsforce 3 as a developer would; prints one JSON object of results.
// Env: SF_URL (instance URL), SF_TOKEN (access token); NODE_EXTRA_CA_CERTS trusts the emulator CA.
const jsforce = require("jsforce");

async function main() {
  const conn = new jsforce.Connection({ instanceUrl: process.env.SF_URL, accessToken: process.env.SF_TOKEN,
                                        version: "62.0" });
  const out = {};
  const identity = await conn.identity();
  out.identity = { username: identity.username, organization_id: identity.organization_id };
  const rows = await conn.query("SELECT Id, Name, Owner.Name FROM Account ORDER BY Id LIMIT 2");
  out.query = rows.records.map((r) => [r.Name, r.Owner.Name]);
  const groups = await conn.query("SELECT Industry, COUNT(Id) n FROM Account GROUP BY Industry");
  out.groups = groups.records.reduce((sum, r) => sum + r.n, 0);
  out.total = (await conn.query("SELECT COUNT() FROM Account")).totalSize;
  const nested = await conn.query("SELECT Name, (SELECT LastName FROM Contacts) FROM Account " +
                                  "WHERE Id IN (SELECT AccountId FROM Contact) LIMIT 1");
  out.nested = nested.records[0].Contacts.records.length;
  const accounts = conn.sobject("Account");
  const created = await accounts.create({ Name: "jsforce made" });
  await accounts.update({ Id: created.id, Industry: "Energy" });
  out.retrieved = (await accounts.retrieve(created.id)).Industry;
  const many = await accounts.retrieve([created.id, rows.records[0].Id], { fields: ["Name"] });
  out.retrievedMany = many.map((r) => r.Name);
  out.describe = (await accounts.describe()).name;
  const layouts = await accounts.layouts();
  out.layouts = { sections: layouts.layouts[0].detailLayoutSections.map((s) => s.heading),
                  recordType: layouts.recordTypeMappings[0].recordTypeId };
  out.listView = (await accounts.listviews()).listviews[0].label;
  out.compactLayout = (await accounts.compactLayouts()).compactLayouts[0].name;
  const fieldDefs = await conn.tooling.query("SELECT QualifiedApiName, DataType FROM FieldDefinition " +
                                             "WHERE EntityDefinition.QualifiedApiName = 'Account'");
  out.toolingNameType = fieldDefs.records.find((r) => r.QualifiedApiName === "Name").DataType;
  out.limits = (await conn.limits()).DailyApiRequests.Max;
  const composite = await conn.requestPost(`/services/data/v62.0/composite`, { compositeRequest: [
    { method: "POST", url: "/services/data/v62.0/sobjects/Contact", referenceId: "c",
      body: { LastName: "jsforce", AccountId: created.id } },
    { method: "GET", url: "/services/data/v62.0/sobjects/Contact/@{c.id}", referenceId: "read" }] });
  out.composite = composite.compositeResponse.map((r) => r.httpStatusCode);
  out.destroyed = (await accounts.destroy(created.id)).success;
  console.log(JSON.stringify(out));
}

main().catch((err) => { console.error(err.stack || String(err)); process.exit(1); });
