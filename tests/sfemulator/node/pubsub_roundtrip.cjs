// Publishes a platform event with the npm Pub/Sub client (salesforce-pubsub-api-client 5) and
// receives it on a subscription, TLS verification on. Prints the received payload as JSON.
// Env: SF_URL, SF_TOKEN, SF_ORG_ID, SF_USER_ID, PUBSUB (host:port).
const PubSubApiClient = require("salesforce-pubsub-api-client").default ?? require("salesforce-pubsub-api-client");

const TOPIC = "/event/Order_Update__e";
const quiet = { debug() {}, info() {}, warn: console.error, error: console.error };

async function main() {
  const client = new PubSubApiClient({
    authType: "user-supplied", accessToken: process.env.SF_TOKEN, instanceUrl: process.env.SF_URL,
    organizationId: process.env.SF_ORG_ID, pubSubEndpoint: process.env.PUBSUB }, quiet);
  await client.connect();
  const received = new Promise((resolve, reject) => {
    client.subscribe(TOPIC, (_subscription, type, data) => {
      if (type === "event") resolve(data);
      if (type === "error") reject(data);
    }, 1);
  });
  received.catch((err) => fail(err));  // e.g. TLS refused: the stream errors, publish may never return
  // The subscription starts at LATEST: publish until it has seen one event (or 20 s pass).
  const deadline = Date.now() + 20000;
  let event = null;
  while (event === null && Date.now() < deadline) {
    await client.publish(TOPIC, { CreatedDate: Date.now(), CreatedById: process.env.SF_USER_ID,
                                  Order_Id__c: { string: "801000000000001" }, Status__c: { string: "Shipped" } });
    event = await Promise.race([received, new Promise((r) => setTimeout(() => r(null), 500))]);
  }
  client.close();
  if (event === null) throw new Error("no event received within 20 s");
  console.log(JSON.stringify({ Status__c: event.payload.Status__c, Order_Id__c: event.payload.Order_Id__c }));
  process.exit(0);
}

function fail(err) {
  console.error(err && (err.details || err.stack) ? `${err.details || ""}\n${err.stack || ""}` : String(err));
  if (err && err.cause) console.error(err.cause);
  process.exit(1);
}

setTimeout(() => fail(new Error("gave up after 30 s")), 30000);
main().catch(fail);
