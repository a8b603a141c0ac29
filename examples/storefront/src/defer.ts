// A query with @defer, sent through Apollo Client 4 set up for incremental
// delivery, as a frontend that tries @defer would send it. The service does
// not offer @defer (README, "The API"), so the query must fail validation
// with a message naming the directive, rather than answer nulls with
// "hasNext": true and nothing after. Prints what the client got as one JSON
// line. The document is parsed here, not written as a gql template: codegen
// validates its documents against the schema, where @defer is unknown.
//
//   ENDPOINT=http://localhost:8080/query node dist/defer.js
import { ApolloClient, HttpLink, InMemoryCache } from "@apollo/client";
import { Defer20220824Handler } from "@apollo/client/incremental";
import { parse } from "graphql";

const endpoint = process.env.ENDPOINT ?? "http://localhost:8080/query";

const client = new ApolloClient({
  link: new HttpLink({ uri: endpoint }),
  cache: new InMemoryCache(),
  incrementalHandler: new Defer20220824Handler(),
});

const query = parse(`query Deferred($id: ID!) { product(id: $id) { id ... @defer { seller { name } } } }`);
try {
  const result = await client.query({ query, variables: { id: "1" }, fetchPolicy: "network-only" });
  console.log(JSON.stringify({ data: result.data ?? null, error: result.error?.message ?? null }));
} catch (e) {
  console.log(JSON.stringify({ data: null, error: e instanceof Error ? e.message : String(e) }));
}
