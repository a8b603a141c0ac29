// The operations a product page sends. GraphQL Code Generator turns each
// into a typed document, and lists it in the persisted documents manifest.
import { graphql } from "./gql/index.js";

export const ProductPage = graphql(`
  query ProductPage($id: ID!) {
    product(id: $id) {
      id
      name
      price { amount currency }
      images { url alt }
      category { name parent { name } }
      seller { name rating }
      hits
    }
  }
`);

export const RecordView = graphql(`
  mutation RecordView($productId: ID!) {
    recordView(productId: $productId) { id hits }
  }
`);
