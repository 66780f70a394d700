import streamlit as st
st.write('investor_portfolio')
