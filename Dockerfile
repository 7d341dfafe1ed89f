FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY handoff ./handoff
COPY adapters ./adapters
COPY labels ./labels
COPY worker ./worker
COPY api ./api
COPY cli ./cli
RUN pip install --no-cache-dir .
ENV HANDOFF_HOST=0.0.0.0
EXPOSE 8080
CMD ["handoff", "serve", "--no-demo"]
