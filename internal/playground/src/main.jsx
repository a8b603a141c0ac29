// The catalog-bff playground: GraphiQL, bundled with its Monaco workers so
// that the page loads nothing from outside the service.
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import './page.css';

import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

const endpoint = document
  .querySelector('meta[name="graphql-endpoint"]')
  .getAttribute('content');

const defaultQuery = `# Product detail page: one product with its seller and category.
{
  product(id: "1") {
    id
    name
    price { amount currency }
    seller { name rating }
    category { name parent { name } }
    stock
  }
}
`;

createRoot(document.getElementById('graphiql')).render(
  <StrictMode>
    <GraphiQL
      fetcher={createGraphiQLFetcher({ url: endpoint })}
      defaultQuery={defaultQuery}
    />
  </StrictMode>,
);
