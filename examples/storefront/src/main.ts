// A storefront's product page against catalog-bff, the way a frontend
// ships it: every operation goes out by its persisted document id, never
// as text, through Apollo Client. It prints what it read as one JSON line,
// and exits non-zero on any error.
//
//   ENDPOINT=http://localhost:8080/query npm start -- 42
import { ApolloClient, HttpLink, InMemoryCache } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import type { DocumentNode } from "graphql";
import { ProductPage, RecordView } from "./operations.js";

const endpoint = process.env.ENDPOINT ?? "http://localhost:8080/query";

const client = new ApolloClient({
  link: new PersistedQueryLink({
    // The client preset puts each operation's id (its SHA-256) in the
    // document's __meta__.hash, and the same id in the manifest.
    generateHash: (doc: DocumentNode) => {
      const hash = (doc as DocumentNode & { __meta__?: { hash?: string } }).__meta__?.hash;
      if (!hash) throw new Error("not a persisted document");
      return hash;
    },
  }).concat(new HttpLink({ uri: endpoint })),
  cache: new InMemoryCache(),
});

const productId = process.argv[2] ?? "1";
const page = await client.query({ query: ProductPage, variables: { id: productId }, fetchPolicy: "network-only" });
const view = await client.mutate({ mutation: RecordView, variables: { productId } });
const again = await client.query({ query: ProductPage, variables: { id: productId }, fetchPolicy: "network-only" });
console.log(JSON.stringify({ page: page.data, view: view.data, again: again.data }));
